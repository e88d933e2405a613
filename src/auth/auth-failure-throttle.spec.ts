import { loadConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { KeyVerifier } from '../credentials/key-verifier';
import { AuthFailureThrottle } from './auth-failure-throttle';

function throttle(vars: Record<string, string>): AuthFailureThrottle {
  const env = loadConfig(vars);
  const metrics = new Metrics();
  const verifier = { wouldQueryUnknownKey: () => true } as unknown as KeyVerifier;
  return new AuthFailureThrottle(env, new RateLimiter(env, metrics), metrics, verifier);
}

describe(AuthFailureThrottle.name, () => {
  it('should admit LIMIT failures per address, then answer how long to wait', async () => {
    const sut = throttle({ AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW_SECONDS: '60' });
    for (let i = 0; i < 3; i++) expect(await sut.failed('admin', '192.0.2.1')).toBeNull();
    const wait = await sut.failed('admin', '192.0.2.1');
    expect(wait).toBeGreaterThanOrEqual(60);
    expect(wait).toBeLessThanOrEqual(63);
    expect(await sut.failed('introspect', '192.0.2.2')).toBeNull();
    await expect(sut.refusal('admin', '192.0.2.1')).resolves.toMatchObject({
      code: 'rate-limited',
      retryAfterSeconds: expect.any(Number),
    });
    await expect(sut.refusal('admin', '192.0.2.3')).resolves.toMatchObject({ code: 'unauthenticated' });
  });

  it('should admit failures again once the window has slid past them', async () => {
    const sut = throttle({ AUTH_FAILURE_LIMIT: '2', AUTH_FAILURE_WINDOW_SECONDS: '1' });
    await sut.failed('admin', '192.0.2.1');
    await sut.failed('admin', '192.0.2.1');
    const wait = await sut.failed('admin', '192.0.2.1');
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);
    // Still refused a moment later (from the local memory of blocked addresses).
    expect(await sut.failed('admin', '192.0.2.1')).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, wait! * 1000 + 50));
    expect(await sut.failed('admin', '192.0.2.1')).toBeNull();
  });

  it('should count nothing with AUTH_FAILURE_LIMIT=0', async () => {
    const sut = throttle({ AUTH_FAILURE_LIMIT: '0' });
    for (let i = 0; i < 100; i++) expect(await sut.failed('authorize', '192.0.2.1')).toBeNull();
  });

  it('should refuse a configuration that makes no sense, naming the variable', () => {
    expect(() => loadConfig({ AUTH_FAILURE_LIMIT: '-1' })).toThrow(/AUTH_FAILURE_LIMIT/);
    expect(() => loadConfig({ AUTH_FAILURE_LIMIT: 'many' })).toThrow(/AUTH_FAILURE_LIMIT/);
    expect(() => loadConfig({ AUTH_FAILURE_WINDOW_SECONDS: '0' })).toThrow(/AUTH_FAILURE_WINDOW_SECONDS/);
    expect(loadConfig({})).toMatchObject({ AUTH_FAILURE_LIMIT: 20, AUTH_FAILURE_WINDOW_SECONDS: 60 });
  });
});
