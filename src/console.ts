import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { NotFound } from './common/errors';
import { sendProblem } from './common/send-problem';

/**
 * What the console's pages may load and reach: files of this origin only (its script and
 * style sheet), calls to this origin's API, no inline script or style element, no framing.
 * The console's charts set styles through the DOM, which this policy allows.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** console/dist, where `npm run build:console` writes the console, from src/ (tests) or dist/src/ (a build). */
export function consoleDirectory(): string | undefined {
  return [join(__dirname, '..', 'console', 'dist'), join(__dirname, '..', '..', 'console', 'dist')].find((dir) =>
    existsSync(join(dir, 'index.html')),
  );
}

/**
 * The operator's console at /console/: static files built by Vite, under CONSOLE_CSP. It calls
 * the public /v1 API with the key an operator signs in with, nothing else. Without a build, a
 * 404 problem says how to make one. `root` is where the build is; null: there is none.
 */
export async function serveConsole(
  app: NestFastifyApplication,
  root: string | null = consoleDirectory() ?? null,
): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  if (!root) {
    const notBuilt = new NotFound('The console is not built: run `npm run build` (or `npm run build:console`).');
    fastify.get('/console', (request, reply) => sendProblem(notBuilt, request, reply));
    fastify.get('/console/*', (request, reply) => sendProblem(notBuilt, request, reply));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    // Swagger UI registers the plugin too; one reply decoration is enough.
    decorateReply: false,
    index: 'index.html',
    setHeaders(reply, path) {
      void reply.header('Content-Security-Policy', CONSOLE_CSP);
      // The page itself is read anew each time (it names the current build's files); those files never change.
      void reply.header('Cache-Control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
    cacheControl: false,
  });
  // The page's files are named relative to /console/.
  fastify.get('/console', (_request, reply) => reply.redirect('/console/', 301));
}
