import { randomUUID } from 'node:crypto';
import { generateKey } from '../src/credentials/key-format';
import type { SeededKey, StoredRecord } from './fixture';

export const BENCH_SCOPE = 'bench:read';

interface IssuedKey {
  id: string;
  client_id: string;
  name: string;
  environment: 'live' | 'test';
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  grace_ends_at: string | null;
  rate_limit: { limit: number; window_seconds: number } | null;
  ip_allowlist: string[];
  usage_limit: number | null;
  metadata: Record<string, unknown>;
  key: string;
}

const ms = (t: string | null): number | null => (t === null ? null : Date.parse(t));

function seeded(issued: IssuedKey): SeededKey {
  return {
    token: issued.key,
    record: {
      keyId: issued.id,
      clientId: issued.client_id,
      clientActive: true,
      isSystemClient: false,
      environment: issued.environment,
      name: issued.name,
      scopes: [...issued.scopes].sort(),
      createdAt: Date.parse(issued.created_at),
      expiresAt: ms(issued.expires_at),
      revokedAt: ms(issued.revoked_at),
      graceEndsAt: ms(issued.grace_ends_at),
      rateLimit: issued.rate_limit
        ? { limit: issued.rate_limit.limit, windowSeconds: issued.rate_limit.window_seconds }
        : null,
      ipAllowlist: issued.ip_allowlist,
      hasUsageLimit: issued.usage_limit !== null,
      metadata: issued.metadata,
    },
  };
}

/** The admin API, called the way an operator would, with the root key. */
class AdminApi {
  constructor(
    private readonly url: string,
    private readonly rootKey: string,
  ) {}

  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(this.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.rootKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

export interface Seed {
  /** Holds `admin:introspect` only: what a gateway or microservice would hold. */
  caller: SeededKey;
  cached: SeededKey;
  rateLimited: SeededKey;
  /** The keys the 1,000-key case picks from. */
  keys: SeededKey[];
  customersClientId: string;
}

/** Seeds everything through the service's own HTTP API. */
export async function seedThroughApi(url: string, rootKey: string, keyCount: number): Promise<Seed> {
  const api = new AdminApi(url, rootKey);
  await api.post('/v1/scopes', { name: BENCH_SCOPE, description: 'What the benchmark introspects for' });
  const gateway = await api.post<{ id: string }>('/v1/clients', {
    name: 'bench gateway',
    description: 'Calls introspection',
  });
  const customers = await api.post<{ id: string }>('/v1/clients', {
    name: 'bench customers',
    description: 'Holds the keys being checked',
  });
  const issue = (clientId: string, body: Record<string, unknown>) =>
    api.post<IssuedKey>(`/v1/clients/${clientId}/keys`, { environment: 'live', ...body }).then(seeded);

  const caller = await issue(gateway.id, { name: 'gateway', scopes: ['admin:introspect'] });
  const cached = await issue(customers.id, { name: 'cached', scopes: [BENCH_SCOPE], metadata: { plan: 'pro' } });
  const rateLimited = await issue(customers.id, {
    name: 'rate limited',
    scopes: [BENCH_SCOPE],
    metadata: { plan: 'pro' },
    // Far above what a 2-core machine can send in a window: the limit is checked, never reached.
    rate_limit: { limit: 1_000_000, window_seconds: 60 },
  });
  const keys: SeededKey[] = [];
  let next = 0;
  const worker = async () => {
    while (next < keyCount) {
      const i = next++;
      keys.push(await issue(customers.id, { name: `bench ${i}`, scopes: [BENCH_SCOPE], metadata: { plan: 'pro' } }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { caller, cached, rateLimited, keys, customersClientId: customers.id };
}

/** Keys for the bulk insert: real keys, inserted by SQL with the service's digest (see database.ts). */
export function bulkKeys(clientId: string, count: number, label: string, createdAt: number): SeededKey[] {
  return Array.from({ length: count }, (_, i): SeededKey => {
    const record: StoredRecord = {
      keyId: randomUUID(),
      clientId,
      clientActive: true,
      isSystemClient: false,
      environment: 'live',
      name: `${label} ${i}`,
      scopes: [BENCH_SCOPE],
      createdAt,
      expiresAt: null,
      revokedAt: null,
      graceEndsAt: null,
      rateLimit: null,
      ipAllowlist: [],
      hasUsageLimit: false,
      metadata: {},
    };
    return { token: generateKey('live'), record };
  });
}
