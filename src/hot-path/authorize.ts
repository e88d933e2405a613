import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Injectable } from '@nestjs/common';
import type { FastifyBaseLogger, HTTPMethods } from 'fastify';
import { presentedKey } from '../auth/actor';
import { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { isDatabaseUnavailable } from '../common/problem';
import type { RateDecision } from '../ratelimit/sliding-window';
import { STOPPING_HEADERS } from '../common/shutting-down';
import type { BodilessAnswer, Exchange } from './exchange';
import { scopeList } from './introspect-body';
import { type Decision, KeyPipeline } from './key-pipeline';
import { REASONS } from './reasons';
import { hasBody, readBody } from './request-body';

export const AUTHORIZE_PATH = '/v1/authorize';
/** Envoy's ext_authz (HTTP) sends the original method, and the original path after its path_prefix. */
export const AUTHORIZE_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Envoy only lets a request through on 200: its configuration asks for that status with this header. */
const SUCCESS_STATUS_HEADER = 'x-keyhouse-success-status';

const REALM = 'Bearer realm="keyhouse"';

/**
 * Forward auth for gateways (nginx auth_request, Envoy ext_authz over HTTP, Traefik
 * ForwardAuth), on `/v1/authorize` and every path under it: the key from the forwarded
 * request's own headers, the scopes it needs from X-Required-Scopes or `?scope=`, the
 * caller's address from X-Forwarded-For only through TRUSTED_PROXIES. A forwarded body is
 * read past (within BODY_LIMIT_BYTES), never parsed. Answers never carry a body: 204 (or
 * 200) with the key's identity in headers, else 401, 403, 413, 429 or 503.
 */
@Injectable()
export class ForwardAuth {
  private bodyLimit = 0;

  constructor(
    private readonly pipeline: KeyPipeline,
    private readonly failures: AuthFailureThrottle,
  ) {}

  /** Set by HotPathServer from the configuration. */
  limitBodiesTo(bytes: number): void {
    this.bodyLimit = bytes;
  }

  answer(call: Exchange): void {
    if (!hasBody(call.req)) return this.decide(call);
    readBody(
      call.req,
      this.bodyLimit,
      (err) => (err ? call.bodiless(bodilessError(err, call.log())) : this.decide(call)),
      () => call.abandon(),
    );
  }

  private decide(call: Exchange): void {
    let answer: BodilessAnswer | Promise<BodilessAnswer>;
    try {
      const url = call.req.url!;
      const mark = url.indexOf('?');
      // Every parameter counts (maxKeys 0): past querystring's default of 1,000, a gateway's
      // ?environment= or ?scope= appended after the caller's own parameters would be dropped.
      const query = mark < 0 ? NO_QUERY : parseQuery(url.slice(mark + 1), '&', '=', { maxKeys: 0 });
      answer = authorizeAnswer(this.pipeline, this.failures, call.req.headers, call.ip, query);
    } catch (err) {
      answer = bodilessError(err, call.log());
    }
    if (answer instanceof Promise) {
      answer.then((a) => call.bodiless(a)).catch((err: unknown) => call.bodiless(bodilessError(err, call.log())));
    } else call.bodiless(answer);
  }
}

const NO_QUERY: Record<string, unknown> = Object.freeze({});

/** Try again shortly: the database could not say. */
const UNAVAILABLE: BodilessAnswer = { status: 503, headers: { 'retry-after': '1' } };
/** A stopping instance's refusal. */
export const CLOSING: BodilessAnswer = { status: 503, headers: STOPPING_HEADERS };

/**
 * The decision on a forwarded request, from the parts of it forward auth reads: its
 * headers, the caller's address and the query string. A promise only when the decision
 * needs a query, a shared counter or the failure throttle.
 */
export function authorizeAnswer(
  pipeline: KeyPipeline,
  failures: AuthFailureThrottle,
  headers: IncomingHttpHeaders,
  ip: string,
  query: Record<string, unknown>,
): BodilessAnswer | Promise<BodilessAnswer> {
  const token = presentedKey(headers);
  // An address over its failure limit, with a key that would cost a query: refused before the lookup.
  const wait = token ? failures.refuseFirst('authorize', ip, token) : null;
  if (wait !== null) return { status: 429, headers: { 'retry-after': String(wait) } };
  const decision = pipeline.decide('authorize', token ?? '', {
    scopes: requiredScopes(headers, query),
    environment: requiredEnvironment(headers['x-required-environment'], query.environment),
    clientIp: ip,
  });
  if (decision instanceof Promise) return decision.then((d) => answerTo(failures, headers, ip, token, d));
  return answerTo(failures, headers, ip, token, decision);
}

// Header objects are built as literals and filled in, not spread: a spread copy per call is
// kept alive by V8 long enough to reach the old generation, which then grows between collections.
function answerTo(
  failures: AuthFailureThrottle,
  headers: IncomingHttpHeaders,
  ip: string,
  token: string | null,
  decision: Decision,
): BodilessAnswer | Promise<BodilessAnswer> {
  if (decision.active) {
    const { key } = decision;
    const identity: Record<string, string> = {
      'x-client-id': key.clientId,
      'x-key-id': key.keyId,
      'x-scopes': key.scopes.join(' '),
    };
    if (decision.rate) addRateLimit(identity, decision.rate);
    return { status: headers[SUCCESS_STATUS_HEADER] === '200' ? 200 : 204, headers: identity };
  }
  const status = REASONS[decision.reason].authorize;
  // A key that is not good counts against the address; too many, and it gets a 429 instead of a 401.
  if (status === 401 && token)
    return failures.failed('authorize', ip).then((wait) => refusal(token, decision, status, wait));
  return refusal(token, decision, status, null);
}

function refusal(
  token: string | null,
  decision: Decision & { active: false },
  status: 401 | 403 | 429,
  wait: number | null,
): BodilessAnswer {
  const headers: Record<string, string> = {};
  if (decision.rate) addRateLimit(headers, decision.rate);
  if (wait !== null) {
    headers['retry-after'] = String(wait);
    return { status: 429, headers };
  }
  // RFC 6750 §3.1: no error code when the request carried no key at all.
  if (status === 401) headers['www-authenticate'] = token ? `${REALM}, error="invalid_token"` : REALM;
  if (decision.reason === 'insufficient_scope') headers['www-authenticate'] = `${REALM}, error="insufficient_scope"`;
  if (status === 429) headers['retry-after'] = String(Math.max(1, Math.ceil(decision.rate!.resetMs / 1000)));
  return { status, headers };
}

/** The bare answer to an error, logged as it deserves: a failing database as a warning, anything unexpected with its stack. */
export function bodilessError(err: unknown, log: FastifyBaseLogger): BodilessAnswer {
  if (isDatabaseUnavailable(err)) {
    log.warn({ err: { message: (err as Error).message } }, 'database unavailable');
    return UNAVAILABLE;
  }
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, headers: {} };
  log.error({ err }, 'unhandled error');
  return { status: 500, headers: {} };
}

/**
 * Every scope asked for, from X-Required-Scopes (repeated headers arrive joined by commas)
 * and `?scope=` (repeated or not) alike: each is required, so a caller can only add to what
 * its gateway asks.
 */
function requiredScopes(headers: IncomingHttpHeaders, query: Record<string, unknown>): string[] {
  const header = headers['x-required-scopes'];
  if (query.scope === undefined) return typeof header === 'string' ? scopeList(header) : [];
  return [header, query.scope]
    .flat()
    .filter((v): v is string => typeof v === 'string')
    .flatMap((v) => scopeList(v));
}

/** Named by no key: what two different environments asked for at once require. */
export const CONFLICTING_ENVIRONMENTS = 'conflicting';

/**
 * The environment asked for by X-Required-Environment and `?environment=` together. Every
 * value given must hold: one value (given once or repeated) is the requirement; values that
 * differ, from one source or both, can be met by no key (environment_mismatch, a 403), never
 * resolved in favour of whichever the caller added. Empty values ask nothing.
 */
export function requiredEnvironment(header: string | string[] | undefined, query: unknown): string | undefined {
  // The common call: one header, or none, and no query.
  if (query === undefined && (header === undefined || (typeof header === 'string' && !header.includes(','))))
    return header || undefined;
  // A repeated header arrives as "a, b"; a query value is what it says.
  const headerValues = [header ?? []].flat().flatMap((h) => h.split(',').map((v) => v.trim()));
  const queryValues = [query ?? []].flat().map(String);
  let found: string | undefined;
  for (const value of [...headerValues, ...queryValues]) {
    if (value.length === 0) continue;
    if (found === undefined) found = value;
    else if (found !== value) return CONFLICTING_ENVIRONMENTS;
  }
  return found;
}

/** Seconds, as the IETF RateLimit fields have them: the gateway can pass them on to its callers. */
function addRateLimit(headers: Record<string, string>, rate: RateDecision): void {
  headers['x-ratelimit-limit'] = String(rate.limit);
  headers['x-ratelimit-remaining'] = String(rate.remaining);
  headers['x-ratelimit-reset'] = String(Math.max(0, Math.ceil(rate.resetMs / 1000)));
}
