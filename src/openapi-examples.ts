import type { CreateClientDto } from './clients/dto/create-client.dto';
import type { UpdateClientDto } from './clients/dto/update-client.dto';
import type { IssuedKeyResponse } from './keys/dto/key.response';
import type { IssueKeyDto } from './keys/dto/issue-key.dto';
import type { RevokeKeyDto } from './keys/dto/revoke-key.dto';
import type { RotateKeyDto } from './keys/dto/rotate-key.dto';
import type { UpdateKeyDto } from './keys/dto/update-key.dto';
import type { CreateScopeDto } from './scopes/dto/create-scope.dto';

/**
 * Request bodies by operation id, shown in Swagger UI and pre-filled by "Try it out"
 * (the first one). Field examples alone would compose bodies the service refuses, such
 * as `expires_at` and `ttl_seconds` together. Typed by the DTOs, so they cannot drift.
 */
export interface NamedExample<T> {
  summary: string;
  value: T;
}

const OLD_KEY_ID = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
const NEW_KEY_ID = '9a7d3c52-8e41-4b6f-b0d2-5c3e1f7a9b80';

export const REQUEST_EXAMPLES: Record<string, Record<string, NamedExample<object>>> = {
  createClient: {
    service: {
      summary: 'A service',
      value: {
        name: 'checkout-service',
        description: 'Checkout service, team Payments',
        metadata: { team: 'payments' },
      } satisfies CreateClientDto,
    },
  },
  updateClient: {
    suspend: {
      summary: 'Suspend: every key of the client stops at once',
      value: { status: 'suspended' } satisfies UpdateClientDto,
    },
    reactivate: { summary: 'Reactivate', value: { status: 'active' } satisfies UpdateClientDto },
    relabel: {
      summary: 'Rename and relabel',
      value: { name: 'checkout', metadata: { team: 'payments', tier: 'gold' } } satisfies UpdateClientDto,
    },
  },
  issueKey: {
    scoped: {
      summary: 'A live key with scopes, for 90 days',
      value: {
        environment: 'live',
        name: 'checkout production',
        scopes: ['orders:read'],
        ttl_seconds: 7_776_000,
        metadata: { owner: 'payments' },
      } satisfies IssueKeyDto,
    },
    limited: {
      summary: 'A test key with a rate limit, an IP allowlist and a usage limit',
      value: {
        environment: 'test',
        name: 'partner sandbox',
        scopes: ['orders:read'],
        expires_at: '2030-01-01T00:00:00Z',
        rate_limit: { limit: 100, window_seconds: 60 },
        ip_allowlist: ['203.0.113.0/24', '2001:db8::/32'],
        usage_limit: 10_000,
      } satisfies IssueKeyDto,
    },
  },
  updateKey: {
    limits: {
      summary: 'Rename and change the rate limit',
      value: {
        name: 'checkout production (eu)',
        rate_limit: { limit: 500, window_seconds: 60 },
      } satisfies UpdateKeyDto,
    },
    clear: {
      summary: 'Remove the expiry and the usage limit',
      value: { expires_at: null, usage_limit: null } satisfies UpdateKeyDto,
    },
  },
  rotateKey: {
    grace: {
      summary: 'The old key keeps working for an hour',
      value: { grace_period_seconds: 3600 } satisfies RotateKeyDto,
    },
    now: { summary: 'The old key stops at once', value: { grace_period_seconds: 0 } satisfies RotateKeyDto },
  },
  revokeKey: {
    reason: { summary: 'With a reason for the audit trail', value: { reason: 'compromised' } satisfies RevokeKeyDto },
  },
  createScope: {
    read: { summary: 'A scope', value: { name: 'orders:read', description: 'Read orders' } satisfies CreateScopeDto },
    wildcard: {
      summary: 'A wildcard scope, covering every orders: scope',
      value: { name: 'orders:*', description: 'Everything about orders' } satisfies CreateScopeDto,
    },
  },
};

/** Fields that make a response example tell its story, laid over the one composed from the schema. */
export const RESPONSE_EXAMPLES: Record<string, Record<string, object>> = {
  rotateKey: {
    201: { id: NEW_KEY_ID, replaces: OLD_KEY_ID } satisfies Partial<IssuedKeyResponse>,
  },
  revokeKey: {
    200: { status: 'revoked', revoked_at: '2026-03-01T09:30:00.000Z', revoked_reason: 'compromised' },
  },
};
