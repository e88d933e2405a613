import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { KeyChangeFeed } from '../../src/credentials/key-change-feed';
import { KeyDigest } from '../../src/credentials/key-digest';
import { KeyChangeStream } from '../../src/hot-path/key-changes';
import { Metrics } from '../../src/metrics/metrics';
import { expectProblem, makeClient, makeClientWithKey, makeKey, makeScope } from '../support/factories';
import { SseParser, SseStream, type SseEvent } from '../support/sse';
import { TestApp } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

const BUFFER = 5;
const MAX_SUBSCRIBERS = 4;
const MAX_PENDING = 16 * 1024;

async function listen(app: TestApp): Promise<string> {
  await app.app.listen(0, '127.0.0.1');
  const { port } = app.app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

const data = (e: SseEvent) => JSON.parse(e.data) as Record<string, string>;
const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));

describe('GET /v1/key-changes', () => {
  const app = useTestApp({
    KEY_CHANGES_HEARTBEAT_SECONDS: 1,
    KEY_CHANGES_BUFFER_EVENTS: BUFFER,
    KEY_CHANGES_MAX_SUBSCRIBERS: MAX_SUBSCRIBERS,
    KEY_CHANGES_MAX_PENDING_BYTES: MAX_PENDING,
  });
  let base: string;
  let caller: string;
  let streams: SseStream[] = [];
  let hub: KeyChangeStream;

  beforeAll(async () => {
    base = await listen(app);
    caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
    hub = app.app.get(KeyChangeStream);
  });
  afterEach(async () => {
    for (const s of streams) s.close();
    streams = [];
    // The server has seen every stream of the test go before the next one counts them.
    const deadline = Date.now() + 5000;
    while (hub.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hub.open).toBe(0);
  });

  const open = async (headers: Record<string, string> = {}, key: string | null = caller, path = '/v1/key-changes') => {
    const stream = await SseStream.open(`${base}${path}`, {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    });
    streams.push(stream);
    return stream;
  };
  const ready = async (stream: SseStream) => stream.next((e) => e.event === 'ready', 'the ready event');
  const bodyOf = async (stream: SseStream) => {
    await stream.closedByServer();
    return { status: stream.status, body: JSON.parse(stream.raw), headers: stream.res.headers, raw: stream.raw };
  };

  it('should refuse a call without a key (401) and a key without admin:introspect (403)', async () => {
    const none = await bodyOf(await open({}, null));
    expectProblem(none, 401, '/v1/key-changes');
    const scope = await makeScope(app);
    const other = (await makeClientWithKey(app, [scope.name])).key.key;
    const forbidden = await bodyOf(await open({}, other));
    expectProblem(forbidden, 403, '/v1/key-changes');
    expect(forbidden.body.required_scopes).toEqual(['admin:introspect']);
    const typo = await bodyOf(await open({}, `${caller.slice(0, -1)}x`));
    expect(typo.status).toBe(401);
  });

  it('should open with the event-stream headers, a retry, and a ready event naming the stream', async () => {
    const stream = await open();
    expect(stream.status).toBe(200);
    expect(stream.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.res.headers['cache-control']).toBe('no-cache');
    expect(stream.res.headers['x-accel-buffering']).toBe('no');
    const first = await ready(stream);
    expect(stream.raw.startsWith('retry: 2000\n\n')).toBe(true);
    const feed = app.app.get(KeyChangeFeed);
    expect(data(first)).toEqual({ stream: feed.epoch, heartbeat_seconds: 1 });
    // Without Last-Event-ID, the ready event carries the position: a reconnect resumes from it.
    expect(first.id).toBe(feed.headId);
  });

  it('should send one event per change, naming ids and the change, never the key, its digest or its hint', async () => {
    const client = await makeClient(app);
    const stream = await open();
    await ready(stream);
    const scope = await makeScope(app);
    // Counted before the key is made: its event may arrive before makeKey returns.
    let seen = stream.events.length;
    const key = await makeKey(app, client.id, { scopes: [scope.name] });
    const expectEvent = async (type: string, change: string, after: number) =>
      stream.next(
        (e) => e.event === type && data(e).change === change && (type === 'client' || data(e).key_id === key.id),
        `${type} ${change}`,
        after,
      );
    const created = await expectEvent('key', 'created', seen);
    expect(data(created)).toEqual({ key_id: key.id, client_id: client.id, change: 'created' });

    seen = stream.events.length;
    expect((await app.patch(`/v1/keys/${key.id}`, { name: 'renamed' })).status).toBe(200);
    await expectEvent('key', 'updated', seen);

    seen = stream.events.length;
    expect((await app.patch(`/v1/keys/${key.id}`, { scopes: [] })).status).toBe(200);
    await expectEvent('key', 'updated', seen);

    seen = stream.events.length;
    expect(
      (await app.patch(`/v1/keys/${key.id}`, { metadata: { tier: 'gold' }, ip_allowlist: ['10.0.0.0/8'] })).status,
    ).toBe(200);
    await expectEvent('key', 'updated', seen);

    seen = stream.events.length;
    // Only a manual fix can move an expiry into the past (the API refuses it): still announced.
    await app.app
      .get(DataSource)
      .query(`UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, [key.id]);
    await expectEvent('key', 'expired', seen);
    await app.app.get(DataSource).query(`UPDATE api_keys SET expires_at = NULL WHERE id = $1`, [key.id]);

    seen = stream.events.length;
    const rotated = await app.post(`/v1/keys/${key.id}/rotate`, { grace_period_seconds: 60 });
    expect(rotated.status).toBe(201);
    await expectEvent('key', 'rotated', seen);
    await stream.next((e) => data(e).key_id === rotated.body.id && data(e).change === 'created', 'the new key', seen);

    seen = stream.events.length;
    expect((await app.post(`/v1/keys/${key.id}/revoke`, {})).status).toBe(200);
    await expectEvent('key', 'revoked', seen);

    seen = stream.events.length;
    expect((await app.patch(`/v1/clients/${client.id}`, { status: 'suspended' })).status).toBe(200);
    const suspended = await expectEvent('client', 'suspended', seen);
    expect(data(suspended)).toEqual({ client_id: client.id, change: 'suspended' });

    seen = stream.events.length;
    expect((await app.patch(`/v1/clients/${client.id}`, { status: 'active' })).status).toBe(200);
    await expectEvent('client', 'reactivated', seen);

    seen = stream.events.length;
    expect((await app.patch(`/v1/clients/${client.id}`, { allowed_scopes: [scope.name] })).status).toBe(200);
    await expectEvent('client', 'updated', seen);

    // Only by hand: a key row or a client deleted.
    const doomed = await makeKey(app, client.id);
    const empty = await makeClient(app);
    seen = stream.events.length;
    await app.app.get(DataSource).query(`DELETE FROM api_keys WHERE id = $1`, [doomed.id]);
    await app.app.get(DataSource).query(`DELETE FROM clients WHERE id = $1`, [empty.id]);
    await stream.next(
      (e) => e.event === 'key' && data(e).key_id === doomed.id && data(e).change === 'deleted',
      'deleted',
      seen,
    );
    await stream.next(
      (e) => e.event === 'client' && data(e).client_id === empty.id && data(e).change === 'deleted',
      'deleted',
      seen,
    );

    // The ids count up by one within the stream.
    const ids = stream.events.filter((e) => e.event === 'key' || e.event === 'client').map((e) => e.id!);
    for (let i = 1; i < ids.length; i++) expect(seqOf(ids[i])).toBe(seqOf(ids[i - 1]) + 1);

    const digests = app.app.get(KeyDigest);
    for (const secret of [key.key, rotated.body.key as string]) {
      expect(stream.raw).not.toContain(secret);
      expect(stream.raw).not.toContain(digests.of(secret));
      expect(stream.raw).not.toContain(secret.slice(-12));
    }
    expect(stream.raw).not.toContain(key.hint);
    expect(stream.raw).not.toContain(rotated.body.hint);
  });

  it('should send nothing for bookkeeping a call writes (last use, remaining uses)', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id, { usage_limit: 10 });
    const stream = await open();
    await ready(stream);
    expect((await app.post('/v1/introspect', { token: key.key }, { key: caller })).body.active).toBe(true);
    await app.app.get(DataSource).query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [key.id]);
    // A change after them is the next event: nothing came before it.
    expect((await app.patch(`/v1/keys/${key.id}`, { name: 'marker' })).status).toBe(200);
    const marker = await stream.next((e) => e.event === 'key', 'the marker');
    expect(data(marker)).toEqual({ key_id: key.id, client_id: client.id, change: 'updated' });
  });

  it('should resume after Last-Event-ID with the events missed, in order, also given as ?last_event_id=', async () => {
    const client = await makeClient(app);
    const first = await open();
    const at = (await ready(first)).id!;
    first.close();
    const a = await makeKey(app, client.id);
    const b = await makeKey(app, client.id);
    for (const resumed of [
      await open({ 'last-event-id': at }),
      await open({}, caller, `/v1/key-changes?last_event_id=${at}`),
    ]) {
      await resumed.until(() => resumed.named('key').length >= 2, 'two missed events');
      const missed = resumed.named('key').map((e) => ({ id: seqOf(e.id!), key: data(e).key_id }));
      expect(missed).toEqual([
        { id: seqOf(at) + 1, key: a.id },
        { id: seqOf(at) + 2, key: b.id },
      ]);
      expect(resumed.named('reset')).toEqual([]);
    }
  });

  it('should send a reset for another stream, a position the buffer no longer holds, or one never reached', async () => {
    const feed = app.app.get(KeyChangeFeed);
    const client = await makeClient(app);
    const first = await open();
    const at = (await ready(first)).id!;
    for (let i = 0; i < BUFFER + 1; i++) await makeKey(app, client.id);
    await first.until(() => first.named('key').length >= BUFFER + 1, 'the changes');
    const cases: [string, string][] = [
      ['0123456789ab-1', 'unknown_stream'],
      [at, 'buffer_exceeded'],
      [`${feed.epoch}-${seqOf(feed.headId) + 10}`, 'buffer_exceeded'],
      ['garbage', 'unknown_stream'],
    ];
    for (const [lastEventId, reason] of cases) {
      const stream = await open({ 'last-event-id': lastEventId });
      const reset = await stream.next((e) => e.event === 'reset', `a reset for ${lastEventId}`);
      expect(data(reset)).toEqual({ reason });
      // The reset carries the position to resume from afterwards.
      expect(reset.id).toBe(feed.headId);
      expect(stream.named('key')).toEqual([]);
      stream.close();
    }
    // One position back is still in the buffer: no reset.
    const last = first.named('key').at(-2)!.id!;
    const near = await open({ 'last-event-id': last });
    await near.until(() => near.named('key').length === 1, 'the one missed event');
    expect(near.named('reset')).toEqual([]);
  });

  it('should send keep-alive comments every KEY_CHANGES_HEARTBEAT_SECONDS', async () => {
    const stream = await open();
    await ready(stream);
    const started = Date.now();
    await stream.until(() => stream.parser.comments.length >= 2, 'two keep-alives', 6000);
    expect(stream.parser.comments.slice(0, 2)).toEqual(['keep-alive', 'keep-alive']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(stream.raw).toContain('\n: keep-alive\n\n');
  });

  it('should answer 503 beyond KEY_CHANGES_MAX_SUBSCRIBERS, and take one again once a stream ends', async () => {
    const open1 = [];
    for (let i = 0; i < MAX_SUBSCRIBERS; i++) {
      const s = await open();
      await ready(s);
      open1.push(s);
    }
    const refused = await bodyOf(await open());
    expectProblem(refused, 503, '/v1/key-changes');
    expect(refused.headers['retry-after']).toBe('1');
    open1[0].close();
    const deadline = Date.now() + 5000;
    while (hub.open >= MAX_SUBSCRIBERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const again = await open();
    expect(again.status).toBe(200);
    await ready(again);
    expect(await app.app.get(Metrics).registry.getSingleMetricAsString('keyhouse_key_change_streams')).toContain(
      `keyhouse_key_change_streams ${MAX_SUBSCRIBERS}`,
    );
  });

  it('should cut off a subscriber that does not read, and not one that reads a burst', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`GET /v1/key-changes HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${caller}\r\n\r\n`);
    socket.pause(); // never reads
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    const deadline = Date.now() + 5000;
    while (hub.open === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hub.open).toBe(1);
    const cutBefore = hub.cutOff;
    const db = app.app.get(DataSource);
    // Changes announced straight on the channel, as the triggers announce them, 2,000 a statement.
    let batches = 0;
    while (hub.cutOff === cutBefore && batches < 60) {
      await db.query(
        `SELECT pg_notify('keyhouse_key_changes', 'k:' || gen_random_uuid() || ':' || gen_random_uuid() || ':updated')
           FROM generate_series(1, 2000)`,
      );
      batches++;
      await new Promise((r) => setImmediate(r));
    }
    expect(hub.cutOff).toBe(cutBefore + 1);
    expect(hub.open).toBe(0);
    const metrics = app.app.get(Metrics).registry;
    expect(await metrics.getSingleMetricAsString('keyhouse_key_change_cutoffs_total')).toContain(
      `keyhouse_key_change_cutoffs_total ${hub.cutOff}`,
    );
    expect(await metrics.getSingleMetricAsString('keyhouse_key_change_streams')).toContain(
      'keyhouse_key_change_streams 0',
    );
    socket.resume(); // reading now: what the kernel held, then the end
    const end = Date.now() + 5000;
    while (!closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
    // A subscriber that reads is not cut off by a burst larger than its socket takes at once.
    const reader = await open();
    await ready(reader);
    await db.query(
      `SELECT pg_notify('keyhouse_key_changes', 'k:' || gen_random_uuid() || ':' || gen_random_uuid() || ':updated')
         FROM generate_series(1, 150)`,
    );
    await reader.until(() => reader.named('key').length >= 150, 'the 150 changes');
    expect(hub.cutOff).toBe(cutBefore + 1);
  });
});

/**
 * On an instance of its own, in this order: the curl line of docs/hot-path.md; the failure
 * throttle (last but for shutdown: with Redis, the failures it makes are counted for this
 * address on every instance); shutdown with a stream open, which ends the instance.
 */
describe('GET /v1/key-changes on an instance of its own', () => {
  let app: TestApp;
  let base: string;
  let caller: string;
  let closed = false;
  beforeAll(async () => {
    // Request timeouts far below the curl line's 3 s: they bound receiving a request, never a stream being sent.
    // A pending bound far above what the shutdown test piles up for a subscriber that does not read.
    app = await TestApp.start({
      AUTH_FAILURE_LIMIT: 3,
      HTTP_HEADERS_TIMEOUT_MS: 1000,
      HTTP_REQUEST_TIMEOUT_MS: 1000,
      KEY_CHANGES_MAX_PENDING_BYTES: 64 * 1024 * 1024,
      CORS_ORIGINS: 'https://console.example',
    });
    base = await listen(app);
    caller = (await makeClientWithKey(app, ['admin:introspect'])).key.key;
  });
  afterAll(async () => {
    if (!closed) await app.close();
  });
  const open = (key: string) => SseStream.open(`${base}/v1/key-changes`, { authorization: `Bearer ${key}` });

  const curl = spawnSync('curl', ['--version']).status === 0;
  (curl ? it : it.skip)(
    `should run the curl line of docs/hot-path.md as written${curl ? '' : ' (skipped: curl is not installed)'}`,
    async () => {
      const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'hot-path.md'), 'utf8');
      const section =
        /<!-- key-changes-example:start -->([\s\S]*?)<!-- key-changes-example:end -->/.exec(doc)?.[1] ?? '';
      const line = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
      expect(line).toContain('/v1/key-changes');
      // curl ends the stream itself (--max-time): exit code 28, with what it received; the server kept it open.
      const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn('bash', ['-c', line.replaceAll('http://localhost:8080', base)], {
          env: { ...process.env, SERVICE_KEY: caller },
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
        child.on('close', (code) => resolve({ code, stdout }));
      });
      expect(run.code).toBe(28);
      const parser = new SseParser();
      parser.feed(run.stdout);
      expect(parser.retry).toBe(2000);
      expect(parser.events[0]?.event).toBe('ready');
      expect(JSON.parse(parser.events[0].data)).toEqual({ stream: expect.any(String), heartbeat_seconds: 15 });
    },
  );

  it("should serve a cross-origin call through Nest's instance, with its CORS headers", async () => {
    const stream = await SseStream.open(`${base}/v1/key-changes`, {
      authorization: `Bearer ${caller}`,
      origin: 'https://console.example',
    });
    expect(stream.status).toBe(200);
    expect(stream.res.headers['access-control-allow-origin']).toBe('https://console.example');
    expect(stream.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await stream.next((e) => e.event === 'ready', 'ready');
    stream.close();
  });

  it('should answer 429 after too many keys that are not good from one address, as /v1/introspect does', async () => {
    const bodyOf = async (stream: SseStream) => {
      await stream.closedByServer();
      return { status: stream.status, body: JSON.parse(stream.raw), headers: stream.res.headers, raw: stream.raw };
    };
    const before = await open(caller); // found once: a key the throttle lets through later
    await before.next((e) => e.event === 'ready', 'ready');
    before.close();
    let throttled: Awaited<ReturnType<typeof bodyOf>> | undefined;
    for (let i = 0; i < 10 && throttled === undefined; i++) {
      const answer = await bodyOf(await open(`${caller.slice(0, -2)}${String(i).padStart(2, 'y')}`));
      if (answer.status === 429) throttled = answer;
      else expect(answer.status).toBe(401);
    }
    expectProblem(throttled!, 429, '/v1/key-changes');
    expect(Number(throttled!.headers['retry-after'])).toBeGreaterThan(0);
    // The good key still passes.
    const good = await open(caller);
    expect(good.status).toBe(200);
    good.close();
  });

  it('should end open streams at shutdown and let the service close without waiting for them', async () => {
    const stream = await open(caller);
    await stream.next((e) => e.event === 'ready', 'ready');
    // And one that does not read, its socket full: it is disconnected rather than waited for.
    const { port } = new URL(base);
    const stuck = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => stuck.once('connect', () => r()));
    stuck.write(`GET /v1/key-changes HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${caller}\r\n\r\n`);
    stuck.pause();
    let stuckClosed = false;
    stuck.on('close', () => (stuckClosed = true));
    stuck.on('error', () => undefined);
    const hub = app.app.get(KeyChangeStream);
    const full = () =>
      [...(hub as unknown as { subscribers: Set<{ waiting: boolean }> }).subscribers].some((s) => s.waiting);
    for (let i = 0; i < 60 && !full(); i++) {
      await app.app
        .get(DataSource)
        .query(
          `SELECT pg_notify('keyhouse_key_changes', 'k:' || gen_random_uuid() || ':' || gen_random_uuid() || ':updated') FROM generate_series(1, 2000)`,
        );
      await new Promise((r) => setImmediate(r));
    }
    expect(full()).toBe(true);
    stream.close(); // the reading one has seen enough; it is ended below, once more
    const again = await open(caller);
    await again.next((e) => e.event === 'ready', 'ready');
    const started = Date.now();
    closed = true;
    await app.close();
    expect(Date.now() - started).toBeLessThan(8000);
    await again.closedByServer(2000);
    // Ended as a response ends (the chunked terminator), not cut.
    expect(again.res.complete).toBe(true);
    // Reading again, it finds what the kernel held, then the disconnection.
    stuck.resume();
    const deadline = Date.now() + 5000;
    while (!stuckClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(stuckClosed).toBe(true);
  });
});
