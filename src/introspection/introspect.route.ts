import type { FastifyReply, FastifyRequest, LogLevel, FastifySchemaValidationError, RouteOptions } from 'fastify';
import { presentedKey } from '../auth/actor';
import type { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { BadInput, Forbidden, TooManyFailedAttempts, Unauthenticated } from '../common/errors';
import { sendProblem } from '../common/send-problem';
import { isAddress } from '../credentials/ip-allowlist';
import { ENVIRONMENTS } from '../credentials/key-format';
import { KeyVerifier, type Verdict } from '../credentials/key-verifier';
import { coversAll } from '../credentials/scope-match';
import { type DrainGate, ShuttingDown } from './drain-gate';
import { introspectionJson } from './introspection-body';
import type { Decision, KeyCheck, Needs } from './key-check';

export const INTROSPECT_PATH = '/v1/introspect';
export const INTROSPECT_SCOPE = 'admin:introspect';
export const INTROSPECT_REQUIRED = [INTROSPECT_SCOPE];

/**
 * The body, JSON or form-encoded. Other fields (such as the `client_id` and
 * `client_secret` OAuth clients add, RFC 6749 §2.3) are accepted and ignored.
 */
export const INTROSPECT_BODY_SCHEMA = {
  type: 'object',
  required: ['token'],
  properties: {
    token: { type: 'string', maxLength: 1024 },
    token_type_hint: { type: 'string', maxLength: 100 },
    scope: { type: 'string', maxLength: 4096 },
    client_ip: { type: 'string', maxLength: 100 },
    environment: { type: 'string', enum: [...ENVIRONMENTS] },
  },
} as const;

export interface IntrospectBody {
  token: string;
  scope?: string;
  client_ip?: string;
  environment?: string;
}

/** Splits a space-separated scope list (RFC 6749 §3.3). */
export function scopeList(value: string | undefined): string[] {
  if (!value) return [];
  // Most callers ask for one scope.
  if (!/[\s,]/.test(value)) return [value];
  return value.split(/[\s,]+/).filter((s) => s.length > 0);
}

export function introspectRoute(deps: {
  verifier: KeyVerifier;
  check: KeyCheck;
  gate: DrainGate;
  failures: AuthFailureThrottle;
  logLevel: LogLevel;
}): RouteOptions {
  const { verifier, check, gate, failures } = deps;
  return {
    method: 'POST',
    url: INTROSPECT_PATH,
    schema: { body: INTROSPECT_BODY_SCHEMA },
    config: { formBody: true },
    // The caller is authenticated before its body is judged: a stranger learns nothing from a 400.
    attachValidation: true,
    logLevel: deps.logLevel,
    errorHandler: (err: unknown, request: FastifyRequest, reply: FastifyReply) => sendProblem(err, request, reply),
    // Not async: a cached key is answered without a promise per step (see KeyCheck.checkNow).
    handler: (request, reply) => gate.pass(shuttingDown, introspect, request, reply),
  };

  function introspect(request: FastifyRequest, reply: FastifyReply): string | Promise<string> {
    const verdict = callerVerdict(verifier, failures, request);
    if (verdict instanceof Promise) return verdict.then((v) => admit(failures, request, v) ?? decide(request, reply));
    return admit(failures, request, verdict) ?? decide(request, reply);
  }

  function decide(request: FastifyRequest, reply: FastifyReply): string | Promise<string> {
    if (request.validationError) throw invalidBody(request.validationError.validation);
    const body = request.body as IntrospectBody;
    if (body.client_ip !== undefined && !isAddress(body.client_ip)) {
      throw new BadInput('The request is not valid.', {
        errors: [{ pointer: '#/client_ip', detail: 'client_ip must be an IPv4 or IPv6 address' }],
      });
    }
    const decision = check.checkNow('introspect', body.token, needsOf(body));
    if (decision instanceof Promise) return decision.then((d) => answer(reply, d));
    return answer(reply, decision);
  }
}

/** What an introspection body asks of the key besides being good. */
export function needsOf(body: IntrospectBody): Needs {
  return { scopes: scopeList(body.scope), environment: body.environment, clientIp: body.client_ip };
}

function shuttingDown(): never {
  throw new ShuttingDown();
}

/** The answer as JSON text, written once for most answers (see introspectionJson). */
function answer(reply: FastifyReply, decision: Decision): string {
  void reply.headers(ANSWER_HEADERS);
  return introspectionJson(decision);
}

export const ANSWER_HEADERS = { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' };

/** The verdict on the caller's own key; a promise only when its key is not cached. */
function callerVerdict(
  verifier: KeyVerifier,
  failures: AuthFailureThrottle,
  request: FastifyRequest,
): Verdict | Promise<Verdict> {
  request.requiredScopes = INTROSPECT_REQUIRED;
  const token = presentedKey(request.headers);
  if (!token) throw new Unauthenticated();
  const wait = failures.refuseFirst('introspect', request.ip, token);
  if (wait !== null) throw new TooManyFailedAttempts(wait);
  return verifier.verifyNow(token, { clientIp: request.ip });
}

/**
 * The caller's own key must be good and hold `admin:introspect`, as the admin guard would
 * require: nothing when it does, a rejected promise (counted by the failure throttle) when it is not good.
 */
function admit(failures: AuthFailureThrottle, request: FastifyRequest, verdict: Verdict): Promise<never> | undefined {
  if (!verdict.active) {
    return failures.refusal('introspect', request.ip).then((refusal) => {
      throw refusal;
    });
  }
  const key = verdict.record;
  request.actor = { keyId: key.keyId, clientId: key.clientId, isSystem: key.isSystemClient, scopes: key.scopes };
  if (!coversAll(key.scopes, INTROSPECT_REQUIRED)) {
    throw new Forbidden(`This operation requires the scope ${INTROSPECT_SCOPE}.`, {
      required_scopes: INTROSPECT_REQUIRED,
    });
  }
  return undefined;
}

function invalidBody(validation: FastifySchemaValidationError[]): BadInput {
  const errors = validation.map((e) => {
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    const field = missing ?? e.instancePath.replace(/^\//, '');
    return { pointer: `#/${field}`, detail: `${field || 'body'} ${e.message ?? 'is not valid'}` };
  });
  return new BadInput('The request is not valid.', { errors });
}
