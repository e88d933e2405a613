import type { StoredRecord } from './fixture';

/**
 * The answers the baselines write, shaped like the service's own (the hot path's documented contract), so
 * both sides serialise the same bytes. `checkSameShape` in the bench compares them live.
 */
export function activeIntrospection(record: StoredRecord): Record<string, unknown> {
  const body: Record<string, unknown> = {
    active: true,
    scope: record.scopes.join(' '),
    client_id: record.clientId,
    sub: record.keyId,
    token_type: 'api_key',
    iat: Math.floor(record.createdAt / 1000),
    environment: record.environment,
    key_name: record.name,
    metadata: record.metadata,
  };
  const goodUntil = [record.expiresAt, record.graceEndsAt].filter((t): t is number => t !== null);
  if (goodUntil.length > 0) body.exp = Math.floor(Math.min(...goodUntil) / 1000);
  if (record.rateLimit) {
    body.rate_limit = {
      limit: record.rateLimit.limit,
      remaining: record.rateLimit.limit - 1,
      reset: Math.ceil(Date.now() / 1000) + record.rateLimit.windowSeconds,
    };
  }
  return body;
}

export function inactiveIntrospection(reason: string): Record<string, unknown> {
  return { active: false, reason };
}
