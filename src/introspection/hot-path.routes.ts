import { createServer, IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import fastify, { FastifyInstance, HTTPMethods, LogLevel, RouteOptions } from 'fastify';
import { DeniedAttempts } from '../audit/denied-attempts';
import { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { bodyParsers, useBodyParsersOn } from '../common/body-parsers';
import { accessLog, answerHeaders, fastifyOptions, trustedProxies } from '../common/fastify-setup';
import { AppConfig } from '../config/config';
import { KeyVerifier } from '../credentials/key-verifier';
import { UsageRecorder } from '../usage/usage-recorder';
import { AUTHORIZE_METHODS, AUTHORIZE_PATH, authorizeRoutes } from './authorize.route';
import { DirectAnswers } from './direct-answers';
import { DrainGate } from './drain-gate';
import { INTROSPECT_PATH, introspectRoute } from './introspect.route';
import { KeyCheck } from './key-check';
import { lazyChildLogger } from './lazy-logger';

/** How long shutdown waits for hot-path calls under way before writing the last usage counts. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Registers the two hot endpoints on Fastify itself rather than as Nest controllers:
 * Nest's per-request pipeline (guards, pipes, interceptors) would cost about half
 * the throughput. They still authenticate through the one KeyVerifier, validate with
 * a JSON schema, and answer errors as problem details.
 *
 * They are registered twice: on Nest's Fastify instance, and on one of their own that
 * has only the hooks they need (request id, access log, denied attempts), with the
 * same options and body parsers. The HTTP server hands their calls to `serve`, which
 * answers the common ones on node:http itself (DirectAnswers: the same checks and
 * answers without Fastify's pipeline) and passes the rest to the second instance,
 * sparing them the hooks Nest installs for its own routes (middleware, CORS,
 * versioning, shutdown). Requests injected in-process, and cross-origin calls when
 * CORS is on, are answered by the same routes on Nest's instance.
 */
@Injectable()
export class HotPathRoutes implements OnModuleInit, BeforeApplicationShutdown {
  private readonly gate = new DrainGate();
  private own: { instance: FastifyInstance; handle: RequestListener } | null = null;
  private direct: DirectAnswers | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly verifier: KeyVerifier,
    private readonly check: KeyCheck,
    private readonly usage: UsageRecorder,
    private readonly env: AppConfig,
    private readonly failures: AuthFailureThrottle,
    private readonly denied: DeniedAttempts,
  ) {}

  async onModuleInit(): Promise<void> {
    const main = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!main) return;
    // The per-request info line (src/app.ts) is noise at this rate; it shows at debug and trace.
    const level = this.env.LOG_LEVEL as LogLevel;
    const logLevel = ['debug', 'trace', 'silent'].includes(level) ? level : highest(level, 'warn');
    const { failures } = this;
    const routes = [
      introspectRoute({ verifier: this.verifier, check: this.check, gate: this.gate, failures, logLevel }),
      ...authorizeRoutes({ check: this.check, gate: this.gate, failures, logLevel }),
    ];
    // Helmet's headers protect browsers; these answers go to services and gateways, and the headers cost a tenth of the throughput.
    const hot = routes.map(
      (route) =>
        ({
          ...route,
          config: { ...route.config, securityHeaders: false, hotPath: true },
          childLoggerFactory: lazyChildLogger,
        }) as RouteOptions,
    );
    for (const route of hot) main.route(route);

    let handle: RequestListener | null = null;
    const instance = fastify({
      ...fastifyOptions(this.env, main.log),
      // Never listens: the service's server passes it the hot path's calls.
      serverFactory: (handler: RequestListener) => ((handle = handler), createServer()),
    });
    useBodyParsersOn(instance, this.env.BODY_LIMIT_BYTES);
    instance.addHook('onSend', answerHeaders([]));
    instance.addHook('onResponse', accessLog);
    instance.addHook('onResponse', this.denied.onResponse);
    for (const route of hot) instance.route(route);
    await instance.ready();
    this.own = { instance, handle: handle! };
    this.direct = new DirectAnswers({
      verifier: this.verifier,
      check: this.check,
      gate: this.gate,
      failures,
      parsers: bodyParsers(instance),
      bodyLimit: this.env.BODY_LIMIT_BYTES,
      trustedProxies: trustedProxies(this.env.TRUSTED_PROXIES),
      log: main.log,
      logLevel,
      replay: (req, body, res) => replay(instance, req, body, res),
    });
  }

  /**
   * Answers the request when it is one of the hot path's calls, directly or on the hot
   * path's own instance: true then, false for every other request, which Nest's instance
   * answers. Paths that are not plain (percent-encoded, over-long) go to Nest's instance
   * too, whose router answers their errors as problem details.
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.own || !isHotCall(req) || (this.env.CORS_ORIGINS && req.headers.origin !== undefined)) return false;
    if (!this.direct!.answer(req, res)) this.own.handle(req, res);
    return true;
  }

  /** Stop taking calls, let those under way finish, then write every count they made. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.gate.close(DRAIN_TIMEOUT_MS);
    await this.usage.flushBeforeExit();
    await this.own?.instance.close();
  }
}

/** Set by the server on the answer it writes, not carried over from an injected one (but for a `Connection: close`). */
const HOP_BY_HOP = ['keep-alive', 'transfer-encoding', 'date'];

/** Answers a call whose body has already been read: injected into `instance` with that body, its answer copied to `res`. */
function replay(instance: FastifyInstance, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
  instance
    .inject({
      method: req.method as HTTPMethods,
      url: req.url!,
      headers: req.headers,
      payload: body,
      remoteAddress: req.socket.remoteAddress,
    })
    .then(
      (answer) => {
        const headers = { ...answer.headers };
        for (const name of HOP_BY_HOP) delete headers[name];
        if (headers.connection !== 'close') delete headers.connection;
        res.writeHead(answer.statusCode, headers as OutgoingHttpHeaders);
        res.end(answer.rawPayload);
      },
      (err: Error) => res.destroy(err),
    );
}

const AUTHORIZE_PREFIX = `${AUTHORIZE_PATH}/`;
const MAX_PLAIN_PATH = 200;

function isHotCall(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (path === INTROSPECT_PATH) return req.method === 'POST';
  const authorize =
    path === AUTHORIZE_PATH ||
    (path.startsWith(AUTHORIZE_PREFIX) && path.length <= MAX_PLAIN_PATH && !path.includes('%'));
  return authorize && AUTHORIZE_METHODS.includes(req.method as (typeof AUTHORIZE_METHODS)[number]);
}

const SEVERITY: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
function highest(a: LogLevel, b: LogLevel): LogLevel {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}
