import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyInstance, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { useBodyParsers } from './common/body-parsers';
import { clientErrorHandler, frameworkErrorHandler } from './common/framework-errors';
import { createLogger, NestPinoLogger } from './common/logger';
import { refuseWhileClosing } from './common/refuse-while-closing';
import { requestId } from './common/request-id';
import { helmetHeaders } from './common/security-headers';
import { Environment } from './config/config';
import { setUpOpenApi } from './openapi';

export interface AppOptions {
  /** Where the log lines go; standard output by default. */
  logDestination?: DestinationStream;
}

/** Builds the whole service on Fastify; `main.ts` listens, tests inject. */
export async function createApp(env: Environment, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const logger = createLogger(env.LOG_LEVEL, options.logDestination);
  const securityHeaders = Object.entries(await helmetHeaders({ contentSecurityPolicy: false }));
  const adapter = new FastifyAdapter({
    frameworkErrors: frameworkErrorHandler(securityHeaders),
    clientErrorHandler: clientErrorHandler(logger, securityHeaders),
    // A repeated header reaches the app as one value, so two Authorization headers are no key rather than whichever came first.
    http: { joinDuplicateHeaders: true },
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestId,
    trustProxy: trustedProxies(env.TRUSTED_PROXIES),
    bodyLimit: env.BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 200 },
    // Fastify's own answer while closing is a 503 with a JSON body of its own; refuseWhileClosing answers a problem.
    return503OnClosing: false,
    // Route schemas (the hot path's) take JSON as sent: a number is not a string.
    ajv: { customOptions: { coerceTypes: false } },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forEnvironment(env), adapter, {
    logger: new NestPinoLogger(logger.child({ component: 'nest' })),
    bufferLogs: false,
  });
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  if (env.CORS_ORIGINS) {
    app.enableCors({
      origin: env.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
      // Every method the API has (the plugin's default stops at POST), the headers a key travels in, and the ones worth reading.
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id', 'X-Required-Scopes', 'X-Required-Environment'],
      exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      maxAge: 600,
    });
  }
  // JSON (and form bodies where an endpoint documents them); anything else is a 415.
  fastify.removeContentTypeParser('text/plain');
  useBodyParsers(app, env.BODY_LIMIT_BYTES);
  // Callback hooks rather than async ones: every request runs them, and a promise each shows on the hot path.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('X-Request-Id', request.id);
    if (reply.routeOptions.config?.securityHeaders !== false) {
      // A header the route set itself stays, as it did when helmet set these first.
      for (const [name, value] of securityHeaders) if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    done(null, payload);
  });
  refuseWhileClosing(fastify);
  fastify.addHook('onResponse', (request, reply, done) => {
    // The hot routes log at warn: build no line for them.
    if (!(request.log as unknown as { isLevelEnabled(level: string): boolean }).isLevelEnabled('info')) return done();
    request.log.info({ method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });
  setUpOpenApi(app);
  return app;
}

/** TRUSTED_PROXIES as Fastify's trustProxy: a list of addresses and CIDRs, or false. */
function trustedProxies(value: string): string[] | false {
  const list = value.split(',').map((p) => p.trim()).filter(Boolean);
  return list.length > 0 ? list : false;
}
