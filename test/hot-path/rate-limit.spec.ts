import { Logger } from '@nestjs/common';
import { Metrics } from '../../src/metrics/metrics';
import { makeClient, makeClientWithKey, makeKey } from '../support/factories';
import { TcpProxy } from '../support/tcp-proxy';
import { TestApp, usingPostgres, usingRedis } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

interface Call {
  sent: number;
  received: number;
  allowed: boolean;
}

/** Calls /v1/authorize with `token` from `concurrency` loops per app until `until`. */
async function hammer(apps: TestApp[], token: string, until: number, concurrency = 4): Promise<Call[]> {
  const calls: Call[] = [];
  const loop = async (app: TestApp) => {
    while (Date.now() < until) {
      const sent = Date.now();
      const res = await app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 204 && res.status !== 429) throw new Error(`unexpected ${res.status}`);
      calls.push({ sent, received: Date.now(), allowed: res.status === 204 });
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await Promise.all(apps.flatMap((app) => Array.from({ length: concurrency }, () => loop(app))));
  return calls;
}

/**
 * The most admitted calls that certainly fell in one window of `windowMs`: calls whose
 * whole round trip (sent to received) lies inside it. The decision was made somewhere
 * in that round trip, by Redis's clock, which is this machine's clock; so this count
 * can only under-state, never over-state, what one window admitted. Tolerance: none.
 */
function fullestWindow(calls: Call[], windowMs: number): number {
  const admitted = calls.filter((c) => c.allowed).sort((a, b) => a.sent - b.sent);
  let most = 0;
  for (const first of admitted) {
    const inside = admitted.filter((c) => c.sent >= first.sent && c.received <= first.sent + windowMs).length;
    most = Math.max(most, inside);
  }
  return most;
}

const fallbacks = async (app: TestApp) => (await app.app.get(Metrics).rateLimiterFallbacks.get()).values[0]?.value ?? 0;

describe('rate limits in memory (no REDIS_URL)', () => {
  const app = useTestApp({ REDIS_URL: undefined });

  it('should admit no more than the limit in any window, and keep admitting at about the limit', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id, { rate_limit: { limit: 10, window_seconds: 1 } });
    const started = Date.now();
    const calls = await hammer([app], key.key, started + 3500);
    expect(fullestWindow(calls, 1000)).toBeLessThanOrEqual(10);
    // Over 3.5 s, a limit of 10 per second lets at most 40 through (10 in each of 4 windows), and, held back
    // at most 1/20 of a window, at least 10 × 3.5 / 1.05, some 33.
    const admitted = calls.filter((c) => c.allowed).length;
    expect(admitted).toBeGreaterThanOrEqual(30);
    expect(admitted).toBeLessThanOrEqual(40);
    expect(await fallbacks(app)).toBe(0);
  });
});

describe('rate limits when Redis is unreachable from the start', () => {
  let warn: jest.SpyInstance;
  beforeAll(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn');
  });
  // Port 1: nothing listens there.
  const app = useTestApp({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: 100 });
  afterAll(async () => {
    warn.mockRestore();
    // ioredis keeps a 2-second timer after disconnecting from a server it never reached.
    await new Promise((r) => setTimeout(r, 2100));
  });

  it('should keep checking keys, limit them per instance, log once, and count each local decision', async () => {
    const client = await makeClient(app);
    const limited = await makeKey(app, client.id, { rate_limit: { limit: 3, window_seconds: 60 } });
    const revoked = await makeKey(app, client.id, { rate_limit: { limit: 3, window_seconds: 60 } });
    await app.post(`/v1/keys/${revoked.id}/revoke`, {});
    const caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    const introspect = (token: string) => app.post('/v1/introspect', { token }, { key: caller });

    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await introspect(limited.key)).body);
    expect(answers.map((a) => (a.active ? 'valid' : a.reason))).toEqual([
      'valid',
      'valid',
      'valid',
      'rate_limited',
      'rate_limited',
    ]);
    expect(answers[3].rate_limit).toMatchObject({ limit: 3, remaining: 0 });
    expect((await introspect(revoked.key)).body).toEqual({ active: false, reason: 'revoked' });
    expect(await fallbacks(app)).toBe(5);
    const episodes = warn.mock.calls.filter(([message]) => String(message).startsWith('Redis unreachable'));
    expect(episodes).toHaveLength(1);
  });
});

const describeWithRedis = usingRedis ? describe : describe.skip;

describeWithRedis(
  `rate limits when Redis goes away and comes back${usingRedis ? '' : ' (skipped: REDIS_URL is not set)'}`,
  () => {
    let proxy: TcpProxy;
    let warn: jest.SpyInstance;
    let log: jest.SpyInstance;
    beforeAll(async () => {
      warn = jest.spyOn(Logger.prototype, 'warn');
      log = jest.spyOn(Logger.prototype, 'log');
      proxy = await TcpProxy.start(new URL(process.env.REDIS_URL!), 6379);
    });
    const app = useTestApp(() => ({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_COMMAND_TIMEOUT_MS: 100 }));
    afterAll(async () => {
      warn.mockRestore();
      log.mockRestore();
      await proxy.stop();
    });

    it('should fall back to a local limit for the outage only, logging its start and end once', async () => {
      const client = await makeClient(app);
      const key = await makeKey(app, client.id, { rate_limit: { limit: 1000, window_seconds: 60 } });
      const authorize = () => app.get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${key.key}` } });
      expect((await authorize()).status).toBe(204);
      expect(await fallbacks(app)).toBe(0);

      await proxy.stop();
      const during = [];
      for (let i = 0; i < 10; i++) during.push((await authorize()).status);
      expect(during).toEqual(Array(10).fill(204));
      expect(await fallbacks(app)).toBe(10);
      expect(warn.mock.calls.filter(([m]) => String(m).startsWith('Redis unreachable'))).toHaveLength(1);

      await proxy.listen();
      const deadline = Date.now() + 10_000;
      let counted = await fallbacks(app);
      while (Date.now() < deadline) {
        await authorize();
        const now = await fallbacks(app);
        if (now === counted) break;
        counted = now;
        await new Promise((r) => setTimeout(r, 100));
      }
      const before = await fallbacks(app);
      for (let i = 0; i < 5; i++) expect((await authorize()).status).toBe(204);
      expect(await fallbacks(app)).toBe(before);
      expect(log.mock.calls.filter(([m]) => String(m).startsWith('Redis answers again'))).toHaveLength(1);
      expect(warn.mock.calls.filter(([m]) => String(m).startsWith('Redis unreachable'))).toHaveLength(1);
    });
  },
);

const describeShared = usingRedis && usingPostgres ? describe : describe.skip;

describeShared(
  `rate limits shared by two instances through Redis${usingRedis && usingPostgres ? '' : ' (skipped: needs DATABASE_URL and REDIS_URL)'}`,
  () => {
    const a = useTestApp();
    const b = useTestApp();

    it('should admit no more than the limit in any window across both instances, with no tolerance', async () => {
      const client = await makeClient(a);
      const key = await makeKey(a, client.id, { rate_limit: { limit: 20, window_seconds: 2 } });
      const started = Date.now();
      const calls = await hammer([a, b], key.key, started + 7000);
      const admitted = calls.filter((c) => c.allowed);
      const fullest = fullestWindow(calls, 2000);
      process.stdout.write(
        `two instances, limit 20 per 2 s, 7 s of load: ${calls.length} calls, ${admitted.length} admitted, fullest 2 s window ${fullest}\n`,
      );
      expect(fullest).toBeLessThanOrEqual(20);
      // Both instances drew on one count: each alone would have let about 70 through.
      expect(admitted.length).toBeGreaterThanOrEqual(60);
      expect(admitted.length).toBeLessThanOrEqual(80);
      expect(await fallbacks(a)).toBe(0);
      expect(await fallbacks(b)).toBe(0);
    });

    it('should not double at a window edge: a burst just before a whole window and one just after share the limit', async () => {
      const client = await makeClient(a);
      const key = await makeKey(a, client.id, { rate_limit: { limit: 10, window_seconds: 1 } });
      const burst = (app: TestApp) =>
        Promise.all(
          Array.from({ length: 10 }, () =>
            app
              .get('/v1/authorize', { key: null, headers: { authorization: `Bearer ${key.key}` } })
              .then((r) => r.status),
          ),
        );
      // A fixed window of 1 s would start afresh at each whole second.
      await sleepUntil(Math.ceil((Date.now() + 200) / 1000) * 1000 - 150);
      const before = await burst(a);
      await sleepUntil(Math.ceil(Date.now() / 1000) * 1000 + 100);
      const after = await burst(b);
      expect(before.filter((s) => s === 204)).toHaveLength(10);
      expect(after.filter((s) => s === 204)).toHaveLength(0);
    });
  },
);

async function sleepUntil(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
