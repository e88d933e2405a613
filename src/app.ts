import { createServer, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { useBodyParsers } from './common/body-parsers';
import { accessLog, answerHeaders, fastifyOptions, refuseForwardedNonAddress } from './common/fastify-setup';
import { clientErrorHandler, frameworkErrorHandler, tooManyHeaders } from './common/framework-errors';
import { keepToListener, markManagement } from './common/listeners';
import { createLogger, NestPinoLogger } from './common/logger';
import { refuseWhileClosing } from './common/refuse-while-closing';
import { helmetHeaders } from './common/security-headers';
import { AppConfig } from './config/config';
import { serveConsole } from './console';
import { HotPathServer } from './hot-path/hot-path.server';
import { Metrics } from './metrics/metrics';
import { requestDuration } from './metrics/request-duration';
import { setUpOpenApi } from './openapi';

export interface AppOptions {
  /** Where the log lines go; standard output by default. */
  logDestination?: DestinationStream;
}

/** Each app's management listener, when it has one of its own (MANAGEMENT_PORT is not PORT). */
const managementServers = new WeakMap<NestFastifyApplication, Server>();

/** The management listener's server (/metrics, /health*), or null when the public listener serves everything. */
export function managementServer(app: NestFastifyApplication): Server | null {
  return managementServers.get(app) ?? null;
}

/** Builds the whole service on Fastify; `listen` (main.ts) opens its listeners, tests inject. */
export async function createApp(env: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const logger = createLogger(env.LOG_LEVEL, options.logDestination);
  const securityHeaders = Object.entries(await helmetHeaders({ contentSecurityPolicy: false }));
  let hotPath: HotPathServer | undefined;
  let management: Server | undefined;
  const refuseHeaderFlood = tooManyHeaders(logger, securityHeaders);
  const adapter = new FastifyAdapter({
    ...fastifyOptions(env, logger),
    frameworkErrors: frameworkErrorHandler(securityHeaders),
    clientErrorHandler: clientErrorHandler(logger, securityHeaders),
    // The hot path's calls are answered by HotPathServer.serve on node:http, every other request by Nest's instance.
    // The management listener hands every request to Nest's instance, marked, for keepToListener.
    serverFactory: (handler: RequestListener) => {
      if (env.MANAGEMENT_PORT !== env.PORT) {
        management = httpServer((req, res) => {
          markManagement(req);
          return refuseHeaderFlood(req, res) || handler(req, res);
        }, env);
      }
      return httpServer(
        (req, res) => refuseHeaderFlood(req, res) || hotPath?.serve(req, res) || handler(req, res),
        env,
      );
    },
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
  // Made by serverFactory, which the adapter called above.
  const server = management;
  if (server) {
    managementServers.set(app, server);
    fastify.addHook('onRequest', keepToListener);
    fastify.addHook('onClose', (_instance, done) => {
      if (!server.listening) return done();
      server.close(() => done());
      server.closeIdleConnections();
    });
  }
  fastify.addHook('onResponse', accessLog);
  fastify.addHook('onResponse', requestDuration(app.get(Metrics)));
  if (env.DOCS_ENABLED) setUpOpenApi(app);
  await serveConsole(app);
  return app;
}

/** Where the listeners are, once open. */
export interface Listening {
  url: string;
  /** Null when the public listener serves /metrics too. */
  managementUrl: string | null;
}

/**
 * Opens the public listener (HOST:PORT) and the management one (MANAGEMENT_HOST:
 * MANAGEMENT_PORT). A management port that cannot be had stops the start with a
 * message naming the variables, rather than a service without metrics.
 */
export async function listen(app: NestFastifyApplication, env: AppConfig): Promise<Listening> {
  await app.listen({ port: env.PORT, host: env.HOST });
  const url = await app.getUrl();
  const server = managementServer(app);
  if (!server) return { url, managementUrl: null };
  await new Promise<void>((resolve, reject) => {
    const refuse = (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `MANAGEMENT_PORT: cannot listen on ${env.MANAGEMENT_HOST}:${env.MANAGEMENT_PORT} (${err.code ?? err.message}); ` +
            'set MANAGEMENT_PORT to a free port, or to PORT to serve /metrics on the public listener',
        ),
      );
    server.once('error', refuse);
    server.listen(env.MANAGEMENT_PORT, env.MANAGEMENT_HOST, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  const { address, family, port } = server.address() as AddressInfo;
  return { url, managementUrl: `http://${family === 'IPv6' ? `[${address}]` : address}:${port}` };
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
