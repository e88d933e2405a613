import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { CONSOLE_CSP, serveConsole } from '../../src/console';

/** How /console is served: a build's files under the console's CSP, or a problem saying how to build it. */
describe('serveConsole', () => {
  let fastify: FastifyInstance;
  let dir: string;

  /** The two things serveConsole uses of a Nest app, on a bare Fastify instance. */
  const asApp = (instance: FastifyInstance) =>
    ({
      getHttpAdapter: () => ({ getInstance: () => instance }),
      register: (plugin: any, options: any) => instance.register(plugin, options),
    }) as unknown as NestFastifyApplication;

  beforeEach(() => {
    fastify = Fastify();
    dir = mkdtempSync(join(tmpdir(), 'keyhouse-console-dist-'));
  });

  afterEach(async () => {
    await fastify.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should serve the build with the console CSP, cache its hashed files, and redirect /console to /console/', async () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'export {};');
    await serveConsole(asApp(fastify), dir);

    const page = await fastify.inject('/console/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');

    const script = await fastify.inject('/console/assets/index-abc.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['cache-control']).toContain('immutable');

    const bare = await fastify.inject('/console');
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe('/console/');
  });

  it('should answer a 404 problem naming the build command when the console is not built', async () => {
    await serveConsole(asApp(fastify), null);
    for (const url of ['/console', '/console/', '/console/assets/x.js']) {
      const res = await fastify.inject(url);
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ status: 404, detail: expect.stringContaining('npm run build') });
    }
  });
});
