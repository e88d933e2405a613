import { generateKey } from '../../../src/credentials/key-format';
import { createVerifier, KeyhouseUnavailableError, type Verifier, type VerifierStatus } from '@keyhouse/client';
import { active, eventually, FakeKeyhouse } from './fake-keyhouse';

/** The verifier against a fake Keyhouse whose answers and change stream the test controls. */
describe('createVerifier', () => {
  let keyhouse: FakeKeyhouse;
  let verifier: Verifier | undefined;
  const statuses: VerifierStatus[] = [];
  const SERVICE_KEY = generateKey('live');

  beforeEach(async () => {
    keyhouse = await new FakeKeyhouse().start();
    statuses.length = 0;
  });
  afterEach(async () => {
    await verifier?.close();
    verifier = undefined;
    await keyhouse.close();
  });

  async function subscribed(options: Parameters<typeof createVerifier>[0] | object = {}): Promise<Verifier> {
    verifier = createVerifier({
      url: keyhouse.url,
      key: SERVICE_KEY,
      reconnectMs: 20,
      onStatus: (status) => statuses.push(status),
      ...options,
    });
    await eventually(() => verifier!.status().stream === 'up');
    return verifier;
  }

  it('should answer a good key once from Keyhouse and then from its cache, with identity and limits', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1', { scope: 'orders:read orders:write' }));
    const first = await v.verify(token, { scopes: ['orders:read'], environment: 'live', clientIp: '203.0.113.7' });
    expect(first).toMatchObject({
      active: true,
      keyId: 'k1',
      clientId: 'c1',
      scopes: ['orders:read', 'orders:write'],
      environment: 'live',
      keyName: 'checkout',
      metadata: { team: 'payments' },
      usageLimited: false,
      cached: false,
    });
    expect(keyhouse.introspections).toEqual([
      { token, scope: 'orders:read', environment: 'live', client_ip: '203.0.113.7' },
    ]);
    const second = await v.verify(token, { scopes: ['orders:read'], environment: 'live', clientIp: '203.0.113.7' });
    expect(second).toMatchObject({ active: true, keyId: 'k1', cached: true });
    expect(keyhouse.introspections).toHaveLength(1);
    // Another question about the same key is its own answer.
    await v.verify(token, { scopes: ['orders:write'], environment: 'live', clientIp: '203.0.113.7' });
    expect(keyhouse.introspections).toHaveLength(2);
    expect(v.status()).toMatchObject({ stream: 'up', hits: 1, misses: 2, cacheEntries: 2 });
  });

  it('should never keep the token itself: the cache is keyed by a hash', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1'));
    await v.verify(token);
    const cache = (v as unknown as { cache: Map<string, unknown> }).cache;
    expect([...cache.keys()].join()).not.toContain(token);
    expect([...cache.keys()][0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(v.status())).not.toContain(token);
  });

  it('should refuse a malformed key locally, without asking Keyhouse', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    const typo = token.slice(0, 20) + (token[20] === 'a' ? 'b' : 'a') + token.slice(21);
    await expect(v.verify(typo)).resolves.toEqual({ active: false, reason: 'malformed', cached: false });
    await expect(v.verify('')).resolves.toMatchObject({ reason: 'malformed' });
    expect(keyhouse.introspections).toHaveLength(0);
  });

  it('should ask Keyhouse once for concurrent verifications of one token', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1'));
    keyhouse.delayMs = 50;
    const answers = await Promise.all(Array.from({ length: 20 }, () => v.verify(token, { scopes: ['orders:read'] })));
    expect(answers.every((a) => a.active)).toBe(true);
    expect(keyhouse.introspections).toHaveLength(1);
  });

  it('should reuse one kept-alive connection for its introspections', async () => {
    const v = await subscribed();
    for (let i = 0; i < 10; i++) {
      const token = generateKey('live');
      keyhouse.answers.set(token, active(`k${i}`, 'c1'));
      await v.verify(token);
    }
    expect(keyhouse.introspections).toHaveLength(10);
    // The ten calls, made one after another, came in on the same one or two connections
    // (undici hands a call to the other idle socket while the last one is being released).
    expect(keyhouse.introspectSockets.size).toBeLessThanOrEqual(2);
    expect(keyhouse.streamRequests).toHaveLength(1);
  });

  it('should drop answers by key id on a key event, by client id on a client event, and all on reset', async () => {
    const v = await subscribed();
    const [a, b, c] = [generateKey('live'), generateKey('live'), generateKey('live')];
    keyhouse.answers.set(a, active('ka', 'c1'));
    keyhouse.answers.set(b, active('kb', 'c1'));
    keyhouse.answers.set(c, active('kc', 'c2'));
    await Promise.all([v.verify(a), v.verify(b), v.verify(c)]);
    expect(v.status().cacheEntries).toBe(3);

    keyhouse.answers.set(a, { active: false, reason: 'revoked' });
    keyhouse.emit('key', { key_id: 'ka', client_id: 'c1', change: 'revoked' });
    await eventually(() => v.status().cacheEntries === 2);
    await expect(v.verify(a)).resolves.toMatchObject({ active: false, reason: 'revoked' });
    await expect(v.verify(b)).resolves.toMatchObject({ active: true, cached: true });

    keyhouse.emit('client', { client_id: 'c1', change: 'suspended' });
    // b (client c1) and the inactive answer for a go; c (client c2) stays.
    await eventually(() => v.status().cacheEntries === 1);
    await expect(v.verify(c)).resolves.toMatchObject({ active: true, cached: true });

    keyhouse.emit('reset', { reason: 'buffer gap' });
    await eventually(() => v.status().cacheEntries === 0);
  });

  it('should keep inactive answers briefly, drop them on a change that could make them good, not on a revocation', async () => {
    const v = await subscribed({ inactiveTtlMs: 60_000 });
    const token = generateKey('live');
    keyhouse.answers.set(token, { active: false, reason: 'client_suspended' });
    await v.verify(token);
    await expect(v.verify(token)).resolves.toMatchObject({ active: false, reason: 'client_suspended', cached: true });
    keyhouse.emit('key', { key_id: 'other', client_id: 'c9', change: 'revoked' });
    keyhouse.emit('client', { client_id: 'c9', change: 'updated' });
    await eventually(() => v.status().cacheEntries === 0);
    keyhouse.answers.set(token, active('k1', 'c1'));
    await expect(v.verify(token)).resolves.toMatchObject({ active: true, cached: false });

    const other = generateKey('live');
    keyhouse.answers.set(other, { active: false, reason: 'not_found' });
    await v.verify(other);
    const before = v.status().cacheEntries;
    keyhouse.emit('key', { key_id: 'k-unrelated', client_id: 'c9', change: 'revoked' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(v.status().cacheEntries).toBe(before);
  });

  it('should expire inactive answers after inactiveTtlMs even while the stream is up', async () => {
    const v = await subscribed({ inactiveTtlMs: 30 });
    const token = generateKey('live');
    await v.verify(token);
    await eventually(async () => {
      await v.verify(token);
      return keyhouse.introspections.length >= 2;
    });
  });

  it('should ask Keyhouse every time for a key with a rate limit or a usage limit', async () => {
    const v = await subscribed();
    const limited = generateKey('live');
    const used = generateKey('live');
    const rate = { limit: 10, remaining: 9, reset: Math.floor(Date.now() / 1000) + 60 };
    keyhouse.answers.set(limited, active('k1', 'c1', { rate_limit: rate }));
    keyhouse.answers.set(used, active('k2', 'c1', { usage_limited: true }));
    for (let i = 0; i < 3; i++) {
      await expect(v.verify(limited)).resolves.toMatchObject({ active: true, cached: false, rateLimit: { limit: 10 } });
      await expect(v.verify(used)).resolves.toMatchObject({ active: true, cached: false, usageLimited: true });
    }
    expect(keyhouse.introspections).toHaveLength(6);
    keyhouse.answers.set(limited, { active: false, reason: 'rate_limited', rate_limit: { ...rate, remaining: 0 } });
    const refused = await v.verify(limited);
    expect(refused).toMatchObject({ active: false, reason: 'rate_limited', cached: false });
    expect(refused.active === false && refused.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    await v.verify(limited);
    expect(keyhouse.introspections).toHaveLength(8);
  });

  it('should refuse a cost other than 1 rather than count it wrong', async () => {
    const v = await subscribed();
    await expect(v.verify(generateKey('live'), { cost: 5 })).rejects.toThrow(RangeError);
    await expect(v.verify(generateKey('live'), { cost: 0 })).rejects.toThrow(RangeError);
  });

  it('should never serve an active answer past its exp', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    const exp = Math.floor(Date.now() / 1000) + 1;
    keyhouse.answers.set(token, active('k1', 'c1', { exp }));
    await expect(v.verify(token)).resolves.toMatchObject({ active: true, expiresAt: new Date(exp * 1000) });
    keyhouse.answers.set(token, { active: false, reason: 'expired' });
    await eventually(() => Date.now() >= exp * 1000);
    await expect(v.verify(token)).resolves.toMatchObject({ active: false, reason: 'expired' });
    expect(keyhouse.introspections).toHaveLength(2);
  });

  it('should not keep an answer asked for before a change it may predate', async () => {
    const v = await subscribed();
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1'));
    keyhouse.delayMs = 100;
    const pending = v.verify(token);
    await eventually(() => keyhouse.introspections.length === 1);
    keyhouse.emit('key', { key_id: 'k1', client_id: 'c1', change: 'revoked' });
    await eventually(() => v.status().lastEventId !== undefined);
    await expect(pending).resolves.toMatchObject({ active: true });
    expect(v.status().cacheEntries).toBe(0);
  });

  it('should bound its cache, dropping the least recently used answer', async () => {
    const v = await subscribed({ cacheSize: 3 });
    const tokens = Array.from({ length: 5 }, () => generateKey('live'));
    tokens.forEach((t, i) => keyhouse.answers.set(t, active(`k${i}`, 'c1')));
    for (const t of tokens.slice(0, 3)) await v.verify(t);
    await v.verify(tokens[0]); // used again: now the most recent
    await v.verify(tokens[3]);
    await v.verify(tokens[4]);
    expect(v.status().cacheEntries).toBe(3);
    await expect(v.verify(tokens[0])).resolves.toMatchObject({ cached: true });
    await expect(v.verify(tokens[1])).resolves.toMatchObject({ cached: false });
  });

  it('should fall back to a short TTL while the stream is down, say so, and resume with Last-Event-ID', async () => {
    const v = await subscribed({ fallbackTtlMs: 100 });
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1'));
    await v.verify(token);
    keyhouse.emit('key', { key_id: 'elsewhere', client_id: 'c9', change: 'updated' });
    await eventually(() => v.status().lastEventId === 'e1-1');

    keyhouse.streamStatus = 503;
    keyhouse.dropStreams();
    await eventually(() => v.status().stream !== 'up');
    expect(statuses.map((s) => s.stream)).toContain('down');
    expect(v.status().streamError).toEqual(expect.any(String));
    // Within the fallback TTL it is still served; after it, Keyhouse is asked again.
    await eventually(async () => {
      await v.verify(token);
      return keyhouse.introspections.length === 2;
    });

    keyhouse.streamStatus = 200;
    await eventually(() => v.status().stream === 'up');
    expect(keyhouse.streamRequests.at(-1)!.headers['last-event-id']).toBe('e1-1');
    expect(statuses.at(-1)).toMatchObject({ stream: 'up' });
  });

  it('should fail closed when Keyhouse cannot be reached and the answer is not cached', async () => {
    const v = await subscribed({ timeoutMs: 200 });
    const cachedToken = generateKey('live');
    keyhouse.answers.set(cachedToken, active('k1', 'c1'));
    await v.verify(cachedToken);

    keyhouse.introspectStatus = 503;
    await expect(v.verify(generateKey('live'))).rejects.toThrow(KeyhouseUnavailableError);
    keyhouse.introspectStatus = 200;
    keyhouse.delayMs = 1000;
    await expect(v.verify(generateKey('live'))).rejects.toThrow(KeyhouseUnavailableError);

    await keyhouse.close();
    await expect(v.verify(generateKey('live'))).rejects.toBeInstanceOf(KeyhouseUnavailableError);
    expect(v.status().failures).toBe(3);
  });

  it('should keep every answer only fallbackTtlMs without a stream', async () => {
    verifier = createVerifier({ url: keyhouse.url, key: SERVICE_KEY, subscribe: false, fallbackTtlMs: 400 });
    expect(verifier.status().stream).toBe('off');
    const token = generateKey('live');
    keyhouse.answers.set(token, active('k1', 'c1'));
    await verifier.verify(token);
    await expect(verifier.verify(token)).resolves.toMatchObject({ cached: true });
    await eventually(async () => {
      await verifier!.verify(token);
      return keyhouse.introspections.length === 2;
    });
    expect(keyhouse.streamRequests).toHaveLength(0);
  });
});
