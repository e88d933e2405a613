import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, LogLevel } from 'fastify';
import { trustedProxies } from '../common/fastify-setup';
import { AppConfig } from '../config/config';
import { UsageRecorder } from '../usage/usage-recorder';
import { AUTHORIZE_METHODS, AUTHORIZE_PATH, CLOSING, ForwardAuth } from './authorize';
import { ShuttingDown } from '../common/shutting-down';
import { DrainGate } from './drain-gate';
import { Exchange, type ExchangeContext } from './exchange';
import { INTROSPECT_PATH, Introspection } from './introspect';
import { KEY_CHANGES_PATH, KeyChangeStream } from './key-changes';

/** How long shutdown waits for hot-path calls under way before writing the last usage counts. */
const DRAIN_TIMEOUT_MS = 10_000;

type Endpoint = 'introspect' | 'authorize' | 'key-changes';

/**
 * Where the hot path's calls enter: `POST /v1/introspect`, forward auth on
 * `/v1/authorize[/...]` and the change stream, `GET /v1/key-changes`. The HTTP server hands them to `serve`, which answers them on
 * node:http itself (Introspection, ForwardAuth), without Nest's per-request pipeline or
 * Fastify's, which together cost more than half a cached call. Calls that reach Nest's
 * instance instead (injected into it, cross-origin when CORS is on, paths the router must
 * decode) are handed back to the same code by two thin routes registered there, with the
 * headers Nest's hooks set (CORS's) kept.
 */
@Injectable()
export class HotPathServer implements OnModuleInit, BeforeApplicationShutdown {
  private readonly gate = new DrainGate();
  private context: ExchangeContext | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly introspection: Introspection,
    private readonly forwardAuth: ForwardAuth,
    private readonly keyChanges: KeyChangeStream,
    private readonly usage: UsageRecorder,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const nest = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!nest) return;
    const trust = trustedProxies(this.config.TRUSTED_PROXIES);
    const trusted = trust ? proxyAddr.compile(trust) : null;
    this.context = {
      gate: this.gate,
      log: nest.log,
      logLevel: hotPathLogLevel(this.config.LOG_LEVEL as LogLevel),
      // As Fastify's request.ip: the nearest address not among the trusted proxies.
      clientIp: trusted ? (req) => proxyAddr(req, trusted) : (req) => req.socket.remoteAddress ?? '',
    };
    this.introspection.limitBodiesTo(this.config.BODY_LIMIT_BYTES);
    this.forwardAuth.limitBodiesTo(this.config.BODY_LIMIT_BYTES);
    const handOver = (endpoint: Endpoint) => (request: FastifyRequest, reply: FastifyReply) => {
      void reply.hijack();
      this.answer(endpoint, request.raw, reply.raw, reply.getHeaders() as OutgoingHttpHeaders);
    };
    // The routes only hand the call over: the hot path reads the body itself, logs and audits itself.
    const route = { logLevel: 'silent' as LogLevel, config: { hotPath: true }, handler: () => undefined };
    nest.route({ ...route, method: 'POST', url: INTROSPECT_PATH, onRequest: handOver('introspect') });
    nest.route({ ...route, method: 'GET', url: KEY_CHANGES_PATH, onRequest: handOver('key-changes') });
    for (const url of [AUTHORIZE_PATH, `${AUTHORIZE_PATH}/*`]) {
      // HEAD is listed: Fastify's automatic HEAD route would not take the catch-all's methods.
      nest.route({
        ...route,
        method: AUTHORIZE_METHODS,
        url,
        exposeHeadRoute: false,
        onRequest: handOver('authorize'),
      });
    }
  }

  /**
   * Answers the request when it is one of the hot path's calls: true then, false for every
   * other request, which Nest's instance answers. Paths that are not plain (percent-encoded,
   * over-long) and cross-origin calls when CORS is on go to Nest's instance too, whose
   * router and hooks see them first.
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.context === null || (this.config.CORS_ORIGINS && req.headers.origin !== undefined)) return false;
    const endpoint = hotEndpoint(req);
    if (endpoint === null) return false;
    this.answer(endpoint, req, res, null);
    return true;
  }

  /** Stop taking calls, let those under way finish, then write every count they made. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.gate.close(DRAIN_TIMEOUT_MS);
    await this.usage.flushBeforeExit();
  }

  private answer(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse, preset: OutgoingHttpHeaders | null) {
    const entered = this.gate.enter();
    const call = new Exchange(req, res, this.context!, preset, entered);
    if (endpoint === 'introspect' || endpoint === 'key-changes') {
      if (!entered) call.problem(new ShuttingDown());
      else if (endpoint === 'introspect') this.introspection.answer(call);
      else this.keyChanges.answer(call);
    } else if (entered) this.forwardAuth.answer(call);
    else call.bodiless(CLOSING);
  }
}

const AUTHORIZE_PREFIX = `${AUTHORIZE_PATH}/`;
const MAX_PLAIN_PATH = 200;

function hotEndpoint(req: IncomingMessage): Endpoint | null {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (path === INTROSPECT_PATH) return req.method === 'POST' ? 'introspect' : null;
  if (path === KEY_CHANGES_PATH) return req.method === 'GET' ? 'key-changes' : null;
  const authorize =
    path === AUTHORIZE_PATH ||
    (path.startsWith(AUTHORIZE_PREFIX) && path.length <= MAX_PLAIN_PATH && !path.includes('%'));
  return authorize && AUTHORIZE_METHODS.includes(req.method as (typeof AUTHORIZE_METHODS)[number]) ? 'authorize' : null;
}

const SEVERITY: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** The per-request info line (src/app.ts) is noise at this rate: the hot path's show at debug and trace only. */
function hotPathLogLevel(level: LogLevel): LogLevel {
  if (level === 'debug' || level === 'trace' || level === 'silent') return level;
  return SEVERITY.indexOf(level) >= SEVERITY.indexOf('warn') ? level : 'warn';
}
