import type { InactiveReason } from '../credentials/key-checks';

/**
 * Every reason code, in the order the checks run: what it means (for the OpenAPI
 * document and the README) and what GET /v1/authorize answers the gateway. 401: the
 * key is not good; 403: a good key, not good for this request; 429: over its rate limit.
 */
export const REASONS: Record<InactiveReason, { meaning: string; authorize: 401 | 403 | 429 }> = {
  malformed: {
    meaning: 'Not a Keyhouse key: wrong prefix, length, alphabet or checksum (decided without the database).',
    authorize: 401,
  },
  not_found: { meaning: 'Well formed, but no such key was ever issued.', authorize: 401 },
  revoked: { meaning: 'Revoked.', authorize: 401 },
  expired: { meaning: 'Past its expiry, or past the end of its rotation grace period.', authorize: 401 },
  client_suspended: { meaning: 'Its client is suspended.', authorize: 401 },
  environment_mismatch: { meaning: 'A `live` key where `test` was asked for, or the reverse.', authorize: 403 },
  insufficient_scope: {
    meaning: 'Lacks one of the scopes asked for (its wildcards count: `orders:*` covers `orders:read`).',
    authorize: 403,
  },
  ip_not_allowed: {
    meaning: 'The client address is not in its IP allowlist (or no address was given and it has one).',
    authorize: 403,
  },
  usage_exceeded: { meaning: 'Its usage limit is spent: no uses remain.', authorize: 403 },
  rate_limited: {
    meaning: 'Over its rate limit in the current window; `rate_limit` says when to retry.',
    authorize: 429,
  },
};
