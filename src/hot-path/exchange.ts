import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger, LogLevel } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from '../common/problem';
import { requestId } from '../common/request-id';
import { problemAnswer } from '../common/send-problem';
import { isAddress } from '../credentials/ip-allowlist';
import type { DrainGate } from './drain-gate';

/** What every call of the hot path shares: set up once by HotPathServer. */
export interface ExchangeContext {
  gate: DrainGate;
  log: FastifyBaseLogger;
  /** The hot path's log level: an access line is written only at debug and trace. */
  logLevel: LogLevel;
  /** The caller's address: the nearest one not among TRUSTED_PROXIES, as Fastify's request.ip. */
  clientIp: (req: IncomingMessage) => string;
}

/** What forward auth answers: a status and headers, never a body. */
export interface BodilessAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
}

/**
 * One call of the hot path, on node:http: its request, and its answer, written once. A call
 * is counted by the drain gate from the moment it is taken to the moment it is answered
 * (or its caller goes away), so that shutdown waits for it.
 */
export class Exchange {
  readonly id: string;
  readonly ip: string;
  private readonly started = performance.now();
  private logger: FastifyBaseLogger | null = null;
  private answered = false;

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly context: ExchangeContext,
    /** Headers already set for this answer (CORS's, when Nest's instance handed the call over). */
    private readonly preset: OutgoingHttpHeaders | null,
    /** Whether the drain gate took the call: false once shutdown has begun, and the call is refused. */
    private inGate: boolean,
  ) {
    this.id = requestId(req);
    this.ip = context.clientIp(req);
  }

  /** The address events record: the client address when it is one, else the peer's. */
  get sourceIp(): string {
    return isAddress(this.ip) ? this.ip : (this.req.socket.remoteAddress ?? '');
  }

  /** The request's own logger, made when first needed: pino's child costs several per cent of a call that, as a rule, logs nothing. */
  log(): FastifyBaseLogger {
    const { log, logLevel } = this.context;
    return (this.logger ??= log.child({ request_id: this.id }, { level: logLevel }));
  }

  /** A 200 with JSON text. */
  json(text: string, cacheControl: string): void {
    // A literal, not a spread: a spread copy per call lives long enough to reach V8's old generation.
    const headers: OutgoingHttpHeaders = {
      'cache-control': cacheControl,
      'content-type': 'application/json; charset=utf-8',
      'x-request-id': this.id,
      'content-length': String(Buffer.byteLength(text)),
    };
    this.write(200, headers, text);
  }

  /** The problem details for `err`; an unexpected error is logged once, with its stack, and never sent. */
  problem(err: unknown): void {
    const { problem, headers } = problemAnswer(err, this.req.url!, this.id, this.log());
    const text = JSON.stringify(problem);
    const all: OutgoingHttpHeaders = headers;
    all['content-type'] = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;
    all['x-request-id'] = this.id;
    all['content-length'] = String(Buffer.byteLength(text));
    this.write(problem.status, all, text);
  }

  /** As Fastify answers an empty reply: a Content-Length of 0 but for 204, 304 and HEAD. */
  bodiless({ status, headers }: BodilessAnswer): void {
    const all: OutgoingHttpHeaders = { 'x-request-id': this.id };
    for (const name in headers) all[name] = headers[name];
    if (status !== 204 && status !== 304 && this.req.method !== 'HEAD') all['content-length'] = '0';
    this.write(status, all);
  }

  /**
   * A 200 whose body is written later, for as long as the caller stays (the change
   * stream): the head is sent now, the call leaves the drain gate (shutdown ends such
   * answers itself, rather than waiting for them), and the response is handed back.
   */
  openStream(headers: OutgoingHttpHeaders): ServerResponse {
    this.leave();
    headers['x-request-id'] = this.id;
    if (this.preset !== null) for (const name in this.preset) headers[name] ??= this.preset[name];
    this.res.writeHead(200, headers);
    return this.res;
  }

  /** The caller went away before it could be answered: out of the gate, nothing written. */
  abandon(): void {
    this.leave();
  }

  private write(status: number, headers: OutgoingHttpHeaders, body?: string): void {
    if (this.answered) return;
    // Out of the gate first: the call was counted when it was decided, and a write that throws must not keep shutdown waiting.
    this.leave();
    if (this.preset !== null) for (const name in this.preset) headers[name] ??= this.preset[name];
    this.res.writeHead(status, headers);
    this.res.end(body);
    if (this.context.logLevel === 'debug' || this.context.logLevel === 'trace') {
      const ms = Math.round(performance.now() - this.started);
      this.log().info({ method: this.req.method, url: this.req.url!.split('?')[0], status, ms }, 'request');
    }
  }

  private leave(): void {
    this.answered = true;
    if (!this.inGate) return;
    this.inGate = false;
    this.context.gate.leave();
  }
}
