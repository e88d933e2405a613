import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyBaseLogger, LogLevel } from 'fastify';
import { presentedKey } from '../auth/actor';
import type { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { PROBLEM_CONTENT_TYPE } from '../common/problem';
import { problemAnswer } from '../common/send-problem';
import { requestId } from '../common/request-id';
import { isAddress } from '../credentials/ip-allowlist';
import type { KeyVerifier } from '../credentials/key-verifier';
import { coversAll } from '../credentials/scope-match';
import { authorizeAnswer, bodilessError, type BodilessAnswer } from './authorize.route';
import type { DrainGate } from './drain-gate';
import { introspectionJson } from './introspection-body';
import {
  ANSWER_HEADERS,
  INTROSPECT_BODY_SCHEMA,
  INTROSPECT_PATH,
  INTROSPECT_REQUIRED,
  needsOf,
  type IntrospectBody,
} from './introspect.route';
import type { Decision, KeyCheck } from './key-check';

type Parse = (body: Buffer, done: (err: Error | null, value?: unknown) => void) => void;

export interface DirectAnswersDeps {
  verifier: KeyVerifier;
  check: KeyCheck;
  gate: DrainGate;
  failures: AuthFailureThrottle;
  parsers: { json: Parse; form: Parse };
  bodyLimit: number;
  /** TRUSTED_PROXIES as a list, or false. */
  trustedProxies: string[] | false;
  log: FastifyBaseLogger;
  /** The hot routes' log level: an access line is written only at debug and trace. */
  logLevel: LogLevel;
  /** Answers a call whose body has been read through the hot routes' Fastify instance. */
  replay: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
}

/** Content types the hot path's calls are sent with, lower-cased, and the parser of each. */
const PLAIN_TYPES = new Map<string, 'json' | 'form'>([
  ['application/json', 'json'],
  ['application/json; charset=utf-8', 'json'],
  ['application/json;charset=utf-8', 'json'],
  ['application/x-www-form-urlencoded', 'form'],
  ['application/x-www-form-urlencoded; charset=utf-8', 'form'],
  ['application/x-www-form-urlencoded;charset=utf-8', 'form'],
]);
const CONTENT_LENGTH = /^[1-9][0-9]{0,8}$/;
const NO_QUERY: Record<string, unknown> = Object.freeze({});
const { 'cache-control': CACHE_CONTROL, 'content-type': CONTENT_TYPE } = ANSWER_HEADERS;

/**
 * The hot path's common calls answered on `node:http` itself: an introspection with a
 * plain body from a caller whose key holds `admin:introspect`, and a forwarded request
 * without a body or query string. Fastify's pipeline (hooks, reply, serializer, router)
 * was a quarter of such a call's cost. The checks, the counting, the answers and their
 * headers are the same code as the Fastify routes'; a call that is anything else (an
 * unusual content type, a chunked body, a caller refused, a body that does not parse or
 * validate) is answered by the routes themselves: before its body is read, by passing
 * it on; after, by replaying it with that body (see HotPathRoutes).
 */
export class DirectAnswers {
  private readonly clientIp: (req: IncomingMessage) => string;
  private readonly calls: CallContext;

  constructor(private readonly deps: DirectAnswersDeps) {
    const trust = deps.trustedProxies ? proxyAddr.compile(deps.trustedProxies) : null;
    // As Fastify's request.ip: the nearest address not among the trusted proxies.
    this.clientIp = trust ? (req) => proxyAddr(req, trust) : (req) => req.socket.remoteAddress ?? '';
    const { gate, log, logLevel, replay } = deps;
    this.calls = { gate, log, logLevel, replay, accessLogged: logLevel === 'debug' || logLevel === 'trace' };
  }

  /** Answers a hot-path call and returns true, or returns false having read nothing of it. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.url === INTROSPECT_PATH) return req.method === 'POST' && this.introspect(req, res);
    return !req.url!.includes('?') && this.authorize(req, res);
  }

  private authorize(req: IncomingMessage, res: ServerResponse): boolean {
    const { headers } = req;
    // A body, even an empty one with a content type, is Fastify's to parse (and refuse).
    if (
      headers['content-type'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] ?? '0') !== '0'
    )
      return false;
    if (!this.deps.gate.enter()) return false;
    const call = new Call(req, res, this.calls);
    let answer: BodilessAnswer | Promise<BodilessAnswer>;
    try {
      answer = authorizeAnswer(this.deps.check, this.deps.failures, headers, this.clientIp(req), NO_QUERY);
    } catch (err) {
      answer = bodilessError(err, call.log());
    }
    if (answer instanceof Promise) {
      answer.then((a) => call.bodiless(a)).catch((err: unknown) => call.bodiless(bodilessError(err, call.log())));
    } else call.bodiless(answer);
    return true;
  }

  private introspect(req: IncomingMessage, res: ServerResponse): boolean {
    const { headers } = req;
    const type = headers['content-type'];
    const kind = type === undefined ? undefined : PLAIN_TYPES.get(type.toLowerCase());
    const length = headers['content-length'];
    if (
      !kind ||
      headers['transfer-encoding'] !== undefined ||
      length === undefined ||
      !CONTENT_LENGTH.test(length) ||
      Number(length) > this.deps.bodyLimit
    )
      return false;
    const token = presentedKey(headers);
    if (!token || !this.deps.gate.enter()) return false;
    const call = new Call(req, res, this.calls);
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    // The caller went away before its body was whole: nothing to answer.
    const onGone = () => (stop(), call.abandon());
    const onEnd = () => {
      stop();
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        this.introspectWith(call, token, kind, body);
      } catch (err) {
        call.problem(err);
      }
    };
    const stop = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onGone);
      req.removeListener('close', onGone);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
    return true;
  }

  /** The caller's key first, as the route's guard does; then the body; then the decision. */
  private introspectWith(call: Call, callerKey: string, kind: 'json' | 'form', body: Buffer): void {
    const ip = this.clientIp(call.req);
    // An address over its failure limit: the route refuses it before any lookup.
    if (this.deps.failures.overLimit(ip, callerKey)) return call.replay(body);
    const caller = this.deps.verifier.verifyNow(callerKey, { clientIp: ip });
    if (caller instanceof Promise) {
      // catch, not then's second argument: whatever goes wrong after the query is answered too (once: see Call).
      caller
        .then((verdict) =>
          verdict.active && coversAll(verdict.record.scopes, INTROSPECT_REQUIRED)
            ? this.decide(call, kind, body)
            : call.replay(body),
        )
        .catch((err: unknown) => call.problem(err));
      return;
    }
    // Refused (a 401 counted by the failure throttle, a 403 audited): the route answers.
    if (!caller.active || !coversAll(caller.record.scopes, INTROSPECT_REQUIRED)) return call.replay(body);
    this.decide(call, kind, body);
  }

  private decide(call: Call, kind: 'json' | 'form', raw: Buffer): void {
    let body: unknown;
    this.deps.parsers[kind](raw, (err, value) => (body = err ? undefined : value));
    if (!isPlainBody(body)) return call.replay(raw);
    const decision = this.deps.check.checkNow('introspect', body.token, needsOf(body));
    if (decision instanceof Promise) {
      decision.then((d) => call.introspection(d)).catch((err: unknown) => call.problem(err));
    } else call.introspection(decision);
  }
}

/**
 * A body the route's schema takes and nothing in it refused (see INTROSPECT_BODY_SCHEMA):
 * stricter where it is simpler (a length in UTF-16 units, not characters), so that every
 * body it turns away is one the route answers itself.
 */
function isPlainBody(body: unknown): body is IntrospectBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { token, token_type_hint: hint, scope, client_ip: ip, environment } = body as Record<string, unknown>;
  return (
    typeof token === 'string' &&
    token.length <= FIELDS.token.maxLength &&
    fits(hint, FIELDS.token_type_hint.maxLength) &&
    fits(scope, FIELDS.scope.maxLength) &&
    (ip === undefined || (fits(ip, FIELDS.client_ip.maxLength) && isAddress(ip as string))) &&
    (environment === undefined || FIELDS.environment.enum.includes(environment as never))
  );
}

const FIELDS = INTROSPECT_BODY_SCHEMA.properties;

/** An optional string field within its schema's length. */
function fits(value: unknown, maxLength: number): boolean {
  return value === undefined || (typeof value === 'string' && value.length <= maxLength);
}

type CallContext = Pick<DirectAnswersDeps, 'gate' | 'log' | 'logLevel' | 'replay'> & { accessLogged: boolean };

/** One call on its way through the gate: answered once, then out of the gate. */
class Call {
  private readonly started = performance.now();
  private readonly id: string;
  private logger: FastifyBaseLogger | null = null;
  private done = false;

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly context: CallContext,
  ) {
    this.id = requestId(req);
  }

  /** The request's own logger, made when first needed (see lazyChildLogger). */
  log(): FastifyBaseLogger {
    const { log, logLevel } = this.context;
    return (this.logger ??= log.child({ request_id: this.id }, { level: logLevel }));
  }

  introspection(decision: Decision): void {
    const json = introspectionJson(decision);
    // A literal, not a spread of ANSWER_HEADERS (see answerTo in authorize.route.ts).
    const headers = {
      'cache-control': CACHE_CONTROL,
      'content-type': CONTENT_TYPE,
      'x-request-id': this.id,
      'content-length': String(Buffer.byteLength(json)),
    };
    this.write(200, headers, json);
  }

  problem(err: unknown): void {
    const { problem, headers } = problemAnswer(err, this.req.url!, this.id, this.log());
    const json = JSON.stringify(problem);
    const type = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;
    this.write(
      problem.status,
      { ...headers, 'content-type': type, 'x-request-id': this.id, 'content-length': String(Buffer.byteLength(json)) },
      json,
    );
  }

  /** As Fastify answers an empty reply: a Content-Length of 0 but for 204, 304 and HEAD. */
  bodiless({ status, headers }: BodilessAnswer): void {
    const all: Record<string, string> = { 'x-request-id': this.id };
    for (const name in headers) all[name] = headers[name]!;
    if (status !== 204 && status !== 304 && this.req.method !== 'HEAD') all['content-length'] = '0';
    this.write(status, all);
  }

  replay(body: Buffer): void {
    this.leave();
    this.context.replay(this.req, body, this.res);
  }

  abandon(): void {
    this.leave();
  }

  private write(status: number, headers: Record<string, string>, body?: string): void {
    if (this.done) return;
    // Out of the gate first: the call was counted when it was decided, and a write that throws must not keep shutdown waiting.
    this.leave();
    this.res.writeHead(status, headers);
    this.res.end(body);
    if (this.context.accessLogged) {
      this.log().info(
        {
          method: this.req.method,
          url: this.req.url!.split('?')[0],
          status,
          ms: Math.round(performance.now() - this.started),
        },
        'request',
      );
    }
  }

  private leave(): void {
    if (this.done) return;
    this.done = true;
    this.context.gate.leave();
  }
}
