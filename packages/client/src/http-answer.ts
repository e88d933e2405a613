import type { KeyEnvironment } from './key-format.js';
import { KeyhouseUnavailableError, type Decision } from './verifier.js';

/** What a middleware attaches to the request once the key is good. */
export interface Identity {
  clientId: string;
  keyId: string;
  scopes: string[];
  environment: KeyEnvironment;
  keyName: string;
  metadata: Record<string, unknown>;
  expiresAt?: Date;
}

/** A refusal as every middleware sends it: status, headers and an RFC 9457 problem body. */
export interface HttpAnswer {
  status: 401 | 403 | 429 | 503;
  headers: Record<string, string>;
  body: { type: string; title: string; status: number; detail: string; reason?: string };
}

const PROBLEM_TYPE = 'urn:keyhouse:problem:';

/**
 * The refusal for a request without a key (`decision` null), with a key that is not good, or
 * when Keyhouse could not be asked (`error`); `null` when the decision lets the request through.
 * RFC 6750 §3: 401 with `error="invalid_token"` for a bad key (no error code when no key was
 * sent), 403 with `error="insufficient_scope"` for a missing scope; 429 with `Retry-After`; 503
 * when Keyhouse is unavailable.
 */
export function httpAnswer(
  decision: Decision | null,
  scopes: readonly string[] = [],
  error?: unknown,
): HttpAnswer | null {
  if (error !== undefined) {
    if (!(error instanceof KeyhouseUnavailableError))
      throw error instanceof Error ? error : new Error('The verifier failed with something that is not an Error.');
    return problem(
      503,
      { 'retry-after': '1' },
      'keyhouse-unavailable',
      'Service unavailable',
      'The key could not be checked right now.',
    );
  }
  if (decision === null) {
    return problem(401, { 'www-authenticate': 'Bearer' }, 'unauthenticated', 'Unauthorized', 'An API key is required.');
  }
  if (decision.active) return null;
  const reason = decision.reason;
  switch (reason) {
    case 'malformed':
    case 'not_found':
    case 'revoked':
    case 'expired':
    case 'client_suspended':
      return problem(
        401,
        { 'www-authenticate': 'Bearer error="invalid_token"' },
        'invalid-key',
        'Unauthorized',
        'The API key is not valid.',
        reason,
      );
    case 'insufficient_scope': {
      const scope = scopes.length > 0 ? `, scope="${scopes.join(' ')}"` : '';
      return problem(
        403,
        { 'www-authenticate': `Bearer error="insufficient_scope"${scope}` },
        'insufficient-scope',
        'Forbidden',
        'The API key lacks a scope this request needs.',
        reason,
      );
    }
    case 'environment_mismatch':
    case 'ip_not_allowed':
    case 'usage_exceeded':
      return problem(403, {}, 'forbidden', 'Forbidden', 'The API key may not be used for this request.', reason);
    case 'rate_limited':
      return problem(
        429,
        { 'retry-after': String(decision.retryAfterSeconds ?? 1) },
        'rate-limited',
        'Too many requests',
        'The API key is over its rate limit.',
        reason,
      );
  }
}

export function identityOf(decision: Decision & { active: true }): Identity {
  const identity: Identity = {
    clientId: decision.clientId,
    keyId: decision.keyId,
    scopes: decision.scopes,
    environment: decision.environment,
    keyName: decision.keyName,
    metadata: decision.metadata,
  };
  if (decision.expiresAt) identity.expiresAt = decision.expiresAt;
  return identity;
}

function problem(
  status: HttpAnswer['status'],
  headers: Record<string, string>,
  type: string,
  title: string,
  detail: string,
  reason?: string,
): HttpAnswer {
  return {
    status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
    body: { type: PROBLEM_TYPE + type, title, status, detail, ...(reason ? { reason } : {}) },
  };
}
