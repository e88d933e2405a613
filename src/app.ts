import { createServer, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { useBodyParsers } from './common/body-parsers';
import { accessLog, answerHeaders, fastifyOptions, refuseForwardedNonAddress } from './common/fastify-setup';
import { clientErrorHandler, frameworkErrorHandler, tooManyHeaders } from './common/framework-errors';
import { createLogger, NestPinoLogger } from './common/logger';
import { refuseWhileClosing } from './common/refuse-while-closing';
import { helmetHeaders } from './common/security-headers';
import { AppConfig } from './config/config';
import { serveConsole } from './console';
import { HotPathServer } from './hot-path/hot-path.server';
import { setUpOpenApi } from './openapi';

export interface AppOptions {
  /** Where the log lines go; standard output by default. */
  logDestination?: DestinationStream;
}

/** Builds the whole service on Fastify; `main.ts` listens, tests inject. */
export async function createApp(env: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const logger = createLogger(env.LOG_LEVEL, options.logDestination);
  const securityHeaders = Object.entries(await helmetHeaders({ contentSecurityPolicy: false }));
  let hotPath: HotPathServer | undefined;
  const refuseHeaderFlood = tooManyHeaders(logger, securityHeaders);
  const adapter = new FastifyAdapter({
    ...fastifyOptions(env, logger),
    frameworkErrors: frameworkErrorHandler(securityHeaders),
    clientErrorHandler: clientErrorHandler(logger, securityHeaders),
    // The hot path's calls are answered by HotPathServer.serve on node:http, every other request by Nest's instance.
    serverFactory: (handler: RequestListener) =>
      httpServer((req, res) => refuseHeaderFlood(req, res) || hotPath?.serve(req, res) || handler(req, res), env),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forEnvironment(env, logger), adapter, {
    logger: new NestPinoLogger(logger.child({ component: 'nest' })),
    bufferLogs: false,
    // A failed start is thrown to the caller (main.ts says why and exits; a test sees the error), not a bare exit(1).
    abortOnError: false,
  });
  hotPath = app.get(HotPathServer, { strict: false });
  const fastify = app.getHttpAdapter().getInstance();
  if (env.CORS_ORIGINS) {
    app.enableCors({
      origin: env.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      // Every method the API has (the plugin's default stops at POST), the headers a key travels in, and the ones worth reading.
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: [
        'Authorization',
        'X-API-Key',
        'Content-Type',
        'X-Request-Id',
        'X-Required-Scopes',
        'X-Required-Environment',
      ],
      exposedHeaders: [
        'X-Request-Id',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
      maxAge: 600,
    });
  }
  // JSON (and form bodies where an endpoint documents them); anything else is a 415.
  fastify.removeContentTypeParser('text/plain');
  useBodyParsers(app, env.BODY_LIMIT_BYTES);
  fastify.addHook('onSend', answerHeaders(securityHeaders));
  refuseWhileClosing(fastify);
  fastify.addHook('onRequest', refuseForwardedNonAddress);
  fastify.addHook('onResponse', accessLog);
  setUpOpenApi(app);
  await serveConsole(app);
  return app;
}

/**
 * The HTTP server, with the listener given. Timeouts bound what a slow client holds: its
 * headers within HTTP_HEADERS_TIMEOUT_MS, its whole request within HTTP_REQUEST_TIMEOUT_MS
 * (else a 408 problem, see clientErrorHandler), an idle keep-alive connection for
 * HTTP_KEEP_ALIVE_TIMEOUT_MS. Node checks them every connectionsCheckingInterval: a
 * second at most, so that a timeout is kept to within a second.
 */
function httpServer(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  env: Pick<AppConfig, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'>,
): Server {
  // A repeated header reaches the app as one value, so two Authorization headers are no key rather than whichever came first.
  const server = createServer(
    {
      joinDuplicateHeaders: true,
      headersTimeout: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1000, env.HTTP_HEADERS_TIMEOUT_MS),
    },
    listener,
  );
  // Not Node's silent cut after 2,000 headers: every header is read (within maxHeaderSize), and too many is a 431 (tooManyHeaders).
  server.maxHeadersCount = 0;
  server.keepAliveTimeout = env.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  return server;
}
