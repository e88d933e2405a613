import { DeniedAttempts } from '../../src/audit/denied-attempts';
import { KeyCache } from '../../src/credentials/key-cache';
import { KeyDigest } from '../../src/credentials/key-digest';
import { makeClient, makeKey } from '../support/factories';
import { usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
}

/** The Prometheus text format's samples: `name{label="value",...} value`. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value!;
      return { name: match[1], labels, value: match[3] };
    });
}

const REASONS = [
  'malformed',
  'not_found',
  'revoked',
  'expired',
  'client_suspended',
  'environment_mismatch',
  'insufficient_scope',
  'ip_not_allowed',
  'usage_exceeded',
  'rate_limited',
];
const oneOf = (values: string[]) => (v: string) => values.includes(v);

/**
 * Every label name any metric may carry, and what its values may be: fixed sets for
 * ours, and the bounded vocabularies of prom-client's default process metrics.
 */
const LABELS: Record<string, (value: string) => boolean> = {
  endpoint: oneOf(['introspect', 'authorize']),
  outcome: oneOf(['valid', ...REASONS]),
  reason: oneOf(REASONS),
  event: oneOf(['hit', 'miss', 'invalidation']),
  state: oneOf(['total', 'idle', 'waiting']),
  result: oneOf(['recorded', 'failed', 'dropped']),
  le: (v) => v === '+Inf' || Number.isFinite(Number(v)),
  // Default Node.js metrics: the runtime version, V8 heap spaces, GC kinds, libuv resource types.
  version: (v) => /^v\d+\.\d+\.\d+$/.test(v),
  major: (v) => /^\d+$/.test(v),
  minor: (v) => /^\d+$/.test(v),
  patch: (v) => /^\d+$/.test(v),
  space: (v) => /^[a-z_]{1,40}$/.test(v),
  kind: oneOf(['major', 'minor', 'incremental', 'weakcb']),
  type: (v) => /^[A-Za-z]{1,40}$/.test(v),
};

describe('metrics', () => {
  const app = useTestApp();

  const scrape = () => app.get('/metrics', { key: null });

  it('should serve Prometheus text without a key', async () => {
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.raw).toContain('# TYPE keyhouse_introspections_total counter');
    expect(res.raw).toContain('# TYPE keyhouse_hot_path_duration_seconds histogram');
  });

  it('should report the database pool and the key cache', async () => {
    await makeClient(app);
    const all = samples((await scrape()).raw);
    const pool = Object.fromEntries(
      all.filter((s) => s.name === 'keyhouse_db_pool_connections').map((s) => [s.labels.state, Number(s.value)]),
    );
    if (usingPostgres) {
      expect(pool).toEqual({ total: expect.any(Number), idle: expect.any(Number), waiting: expect.any(Number) });
      expect(pool.total).toBeGreaterThanOrEqual(1);
      expect(pool.total).toBeLessThanOrEqual(app.env.DB_POOL_SIZE);
    } else {
      expect(pool).toEqual({ total: 1 });
    }
    expect(Number(all.find((s) => s.name === 'keyhouse_key_cache_entries')?.value)).toBeGreaterThanOrEqual(0);
    // Other instances' changes empty this cache at any time (PostgreSQL runs share one database), so the size is pinned.
    const size = jest.spyOn(app.app.get(KeyCache), 'size', 'get').mockReturnValue(1234);
    try {
      expect(samples((await scrape()).raw).find((s) => s.name === 'keyhouse_key_cache_entries')?.value).toBe('1234');
    } finally {
      size.mockRestore();
    }
  });

  it('should carry no key, digest, id or other unbounded value in any label', async () => {
    // Traffic of every kind this suite can make: good and bad keys, denials, a leaked key.
    const client = await makeClient(app);
    const reader = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
    const leaked = await makeKey(app, client.id);
    await app.get(`/v1/keys/${reader.id}`, { key: reader.key });
    await app.post(`/v1/keys/${reader.id}/revoke`, {}, { key: reader.key });
    await app.get('/v1/keys', { key: 'sk_live_' + 'B'.repeat(49) });
    for (const token of [reader.key, leaked.key, 'sk_live_' + 'C'.repeat(49), 'not a key']) {
      expect((await app.post('/v1/introspect', { token, scope: 'orders:read' })).status).toBe(200);
    }
    await app.call('GET', '/v1/authorize', { key: reader.key, headers: { 'x-required-scopes': 'orders:read' } });
    await app.post('/v1/keys/leaked', { key: leaked.key, source: 'metrics test' });
    await app.app.get(DeniedAttempts).settled();

    const text = (await scrape()).raw;
    const all = samples(text);
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((s) => Object.keys(s.labels).length > 0).length).toBeGreaterThan(10);
    const offending = all.flatMap((s) =>
      Object.entries(s.labels)
        .filter(([name, value]) => !LABELS[name]?.(value))
        .map(([name, value]) => `${s.name}{${name}="${value}"}`),
    );
    expect(offending).toEqual([]);
    expect(
      all.find((s) => s.name === 'keyhouse_denied_attempts_total' && s.labels.result === 'recorded'),
    ).toBeDefined();
    expect(
      all.find((s) => s.name === 'keyhouse_introspections_total' && s.labels.endpoint === 'introspect'),
    ).toBeDefined();

    const digest = app.app.get(KeyDigest);
    for (const secret of [reader.key, leaked.key, app.rootKey]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(digest.of(secret));
    }
    for (const id of [client.id, reader.id, leaked.id]) expect(text).not.toContain(id);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });
});
