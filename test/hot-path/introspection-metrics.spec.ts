import { generateKey } from '../../src/credentials/key-format';
import { UsageRecorder } from '../../src/usage/usage-recorder';
import { makeClient, makeClientWithKey, makeKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

/** The value of one sample of the Prometheus text, or 0 when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(match[3]);
  }
  return 0;
}

describe('hot-path metrics', () => {
  const scrape = async () => (await app.get('/metrics', { key: null, listener: 'management' })).raw;

  // No timed flush: the lag and the flush below are the test's own.
  const app = useTestApp({ USAGE_FLUSH_INTERVAL_MS: 3_600_000 });

  it('should count decisions by endpoint and outcome, time them, and count cache events', async () => {
    const client = await makeClient(app);
    const good = await makeKey(app, client.id);
    const revoked = await makeKey(app, client.id);
    await app.post(`/v1/keys/${revoked.id}/revoke`, {});
    const caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    const before = await scrape();
    const hitsBefore = sample(before, 'keyhouse_key_cache_events_total', { event: 'hit' });

    for (let i = 0; i < 3; i++) await app.post('/v1/introspect', { token: good.key }, { key: caller });
    await app.post('/v1/introspect', { token: revoked.key }, { key: caller });
    await app.post('/v1/introspect', { token: 'nonsense' }, { key: caller });
    await app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${good.key}` } });
    await app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${generateKey('live')}` } });

    const text = await scrape();
    const delta = (labels: Record<string, string>) =>
      sample(text, 'keyhouse_introspections_total', labels) - sample(before, 'keyhouse_introspections_total', labels);
    expect({
      introspectValid: delta({ endpoint: 'introspect', outcome: 'valid' }),
      introspectRevoked: delta({ endpoint: 'introspect', outcome: 'revoked' }),
      introspectMalformed: delta({ endpoint: 'introspect', outcome: 'malformed' }),
      authorizeValid: delta({ endpoint: 'authorize', outcome: 'valid' }),
      authorizeNotFound: delta({ endpoint: 'authorize', outcome: 'not_found' }),
    }).toEqual({
      introspectValid: 3,
      introspectRevoked: 1,
      introspectMalformed: 1,
      authorizeValid: 1,
      authorizeNotFound: 1,
    });
    const timed = (endpoint: string) =>
      sample(text, 'keyhouse_hot_path_duration_seconds_count', { endpoint }) -
      sample(before, 'keyhouse_hot_path_duration_seconds_count', { endpoint });
    expect({ introspect: timed('introspect'), authorize: timed('authorize') }).toEqual({ introspect: 5, authorize: 2 });
    // The caller's key and the good key come from the cache; the unknown key was a miss.
    expect(sample(text, 'keyhouse_key_cache_events_total', { event: 'hit' }) - hitsBefore).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'keyhouse_key_cache_events_total', { event: 'miss' })).toBeGreaterThanOrEqual(1);
  });

  it('should report the age of unwritten usage counts, and the rows each flush writes', async () => {
    const recorder = app.app.get(UsageRecorder);
    await recorder.flush();
    expect(sample(await scrape(), 'keyhouse_usage_flush_lag_seconds')).toBe(0);
    const client = await makeClient(app);
    const key = await makeKey(app, client.id);
    await app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${key.key}` } });
    await new Promise((r) => setTimeout(r, 50));
    expect(sample(await scrape(), 'keyhouse_usage_flush_lag_seconds')).toBeGreaterThan(0);
    const flushesBefore = sample(await scrape(), 'keyhouse_usage_flush_rows_count');
    expect(await recorder.flush()).toBe(1);
    const text = await scrape();
    expect(sample(text, 'keyhouse_usage_flush_lag_seconds')).toBe(0);
    expect(sample(text, 'keyhouse_usage_flush_rows_count')).toBe(flushesBefore + 1);
  });
});
