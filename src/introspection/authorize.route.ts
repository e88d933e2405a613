import type { FastifyReply, FastifyRequest, LogLevel, HTTPMethods, RouteOptions } from 'fastify';
import { presentedKey } from '../auth/actor';
import type { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { isDatabaseUnavailable } from '../common/problem';
import type { RateDecision } from '../ratelimit/sliding-window';
import type { DrainGate } from './drain-gate';
import { scopeList } from './introspect.route';
import type { Decision, KeyCheck } from './key-check';
import { REASONS } from './reasons';

export const AUTHORIZE_PATH = '/v1/authorize';
/** Envoy's ext_authz (HTTP) sends the original method, and the original path after its path_prefix. */
export const AUTHORIZE_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Envoy only lets a request through on 200: its configuration asks for that status with this header. */
const SUCCESS_STATUS_HEADER = 'x-keyhouse-success-status';

const REALM = 'Bearer realm="keyhouse"';

/**
 * Forward auth for gateways (nginx auth_request, Envoy ext_authz over HTTP, Traefik
 * ForwardAuth): the key from the forwarded request's own headers, the scopes it needs
 * from X-Required-Scopes or `?scope=`, the caller's address from X-Forwarded-For only
 * through TRUSTED_PROXIES (Fastify's trustProxy sets request.ip). Answers never carry
 * a body: 204 (or 200) with the key's identity in headers, else 401, 403, 429 or 503.
 */
export function authorizeRoutes(deps: { check: KeyCheck; gate: DrainGate; failures: AuthFailureThrottle; logLevel: LogLevel }): RouteOptions[] {
  const { check, gate, failures } = deps;
  const closed = (_request: FastifyRequest, reply: FastifyReply) => void reply.status(503).header('retry-after', '1').send();
  // Not async: a cached key is answered without a promise per step (see KeyCheck.checkNow).
  const handler = (request: FastifyRequest, reply: FastifyReply): void | Promise<void> => gate.pass(closed, authorize, request, reply);
  const authorize = (request: FastifyRequest, reply: FastifyReply): void | Promise<void> => {
    const token = presentedKey(request.headers);
    const decision = check.checkNow('authorize', token ?? '', {
      scopes: requiredScopes(request),
      environment: firstOf(request.headers['x-required-environment']) ?? firstOf((request.query as Record<string, unknown>).environment),
      clientIp: request.ip,
    });
    if (decision instanceof Promise) return decision.then((d) => answer(request, reply, token, d));
    return answer(request, reply, token, decision);
  };
  const answer = (request: FastifyRequest, reply: FastifyReply, token: string | null, decision: Decision): void | Promise<void> => {
    if (decision.rate) rateLimitHeaders(reply, decision.rate);
    if (decision.active) {
      const { key } = decision;
      void reply.headers({ 'x-client-id': key.clientId, 'x-key-id': key.keyId, 'x-scopes': key.scopes.join(' ') });
      return void reply.status(request.headers[SUCCESS_STATUS_HEADER] === '200' ? 200 : 204).send();
    }
    const status = REASONS[decision.reason].authorize;
    // A key that is not good counts against the address; too many, and it gets a 429 instead of a 401.
    if (status === 401 && token) return failures.failed('authorize', request.ip).then((wait) => refuse(reply, token, decision, status, wait));
    return refuse(reply, token, decision, status, null);
  };
  return [AUTHORIZE_PATH, `${AUTHORIZE_PATH}/*`].map((url) => ({
    method: AUTHORIZE_METHODS,
    url,
    logLevel: deps.logLevel,
    // HEAD is listed: Fastify's automatic HEAD route would not take the catch-all's methods.
    exposeHeadRoute: false,
    errorHandler: bareError,
    config: { bodylessErrors: true },
    handler,
  }));
}

function refuse(reply: FastifyReply, token: string | null, decision: Decision & { active: false }, status: 401 | 403 | 429, wait: number | null): void {
  if (wait !== null) return void reply.status(429).header('retry-after', String(wait)).send();
  // RFC 6750 §3.1: no error code when the request carried no key at all.
  if (status === 401) void reply.header('www-authenticate', token ? `${REALM}, error="invalid_token"` : REALM);
  if (decision.reason === 'insufficient_scope') void reply.header('www-authenticate', `${REALM}, error="insufficient_scope"`);
  if (status === 429) void reply.header('retry-after', String(Math.max(1, Math.ceil(decision.rate!.resetMs / 1000))));
  return void reply.status(status).send();
}

/** Errors too leave without a body: 503 when the database could not say, 4xx for a request Fastify refused, else 500. */
function bareError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (isDatabaseUnavailable(err)) {
    request.log.warn({ err: { message: (err as Error).message } }, 'database unavailable');
    return void reply.status(503).header('retry-after', '1').send();
  }
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return void reply.status(status).send();
  request.log.error({ err }, 'unhandled error');
  void reply.status(500).send();
}

function requiredScopes(request: FastifyRequest): string[] {
  const header = request.headers['x-required-scopes'];
  const query = (request.query as Record<string, unknown>).scope;
  if (query === undefined) return typeof header === 'string' ? scopeList(header) : [];
  return [header, query].flat().filter((v): v is string => typeof v === 'string').flatMap((v) => scopeList(v));
}

function firstOf(value: unknown): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.length > 0 ? first : undefined;
}

/** Seconds, as the IETF RateLimit fields have them: the gateway can pass them on to its callers. */
function rateLimitHeaders(reply: FastifyReply, rate: RateDecision): void {
  void reply.headers({
    'x-ratelimit-limit': String(rate.limit),
    'x-ratelimit-remaining': String(rate.remaining),
    'x-ratelimit-reset': String(Math.max(0, Math.ceil(rate.resetMs / 1000))),
  });
}
