import type { KeyRecord } from '../credentials/key-record';
import type { InactiveReason } from '../credentials/key-checks';
import type { RateDecision } from '../ratelimit/sliding-window';
import type { Decision } from './key-pipeline';

/** The rate limit as introspection reports it; `reset` in seconds since the epoch, like `exp`. */
export interface RateLimitBody {
  limit: number;
  remaining: number;
  reset: number;
}

export interface ActiveIntrospection {
  active: true;
  scope: string;
  client_id: string;
  sub: string;
  token_type: 'api_key';
  iat: number;
  environment: string;
  key_name: string;
  metadata: Record<string, unknown>;
  exp?: number;
  rate_limit?: RateLimitBody;
  usage_limited?: true;
}

export interface InactiveIntrospection {
  active: false;
  reason: string;
  rate_limit?: RateLimitBody;
}

/** RFC 7662's answer, with Keyhouse's extensions; never the key itself. */
export function introspectionBody(decision: Decision, now = Date.now()): ActiveIntrospection | InactiveIntrospection {
  if (!decision.active) {
    return decision.rate
      ? { active: false, reason: decision.reason, rate_limit: rateLimitBody(decision.rate, now) }
      : { active: false, reason: decision.reason };
  }
  const key: KeyRecord = decision.key;
  const body: ActiveIntrospection = {
    active: true,
    scope: key.scopes.join(' '),
    client_id: key.clientId,
    sub: key.keyId,
    token_type: 'api_key',
    iat: Math.floor(key.createdAt / 1000),
    environment: key.environment,
    key_name: key.name,
    metadata: key.metadata,
  };
  // While a rotated key is in grace, this is the end of its grace (or its own expiry, if sooner).
  if (key.goodUntil !== null) body.exp = Math.floor(key.goodUntil / 1000);
  if (decision.rate) body.rate_limit = rateLimitBody(decision.rate, now);
  // Each good call of such a key takes a use: a consumer's own cache must not answer for it.
  if (key.hasUsageLimit) body.usage_limited = true;
  return body;
}

function rateLimitBody(rate: RateDecision, now: number): RateLimitBody {
  return { limit: rate.limit, remaining: rate.remaining, reset: Math.ceil((now + rate.resetMs) / 1000) };
}

/**
 * The same answer as JSON text. Most answers are the same bytes every time: a key's
 * active answer without a rate limit (kept on its record, which a change to the key
 * replaces), and each inactive reason without one.
 */
export function introspectionJson(decision: Decision, now = Date.now()): string {
  if (decision.rate) return JSON.stringify(introspectionBody(decision, now));
  if (!decision.active) return (INACTIVE_JSON[decision.reason] ??= JSON.stringify(introspectionBody(decision, now)));
  return (decision.key.activeAnswer ??= JSON.stringify(introspectionBody(decision, now)));
}

const INACTIVE_JSON: Partial<Record<InactiveReason, string>> = {};
