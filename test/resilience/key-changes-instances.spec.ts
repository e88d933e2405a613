import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { KeyChangeFeed } from '../../src/credentials/key-change-feed';
import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { makeClient, makeClientWithKey, makeKey } from '../support/factories';
import { SseStream } from '../support/sse';
import { usingPostgres, type TestApp } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * The change stream on two instances of one PostgreSQL database: a change made through
 * A reaches a subscriber of B (only B's LISTEN connection can have told it), and when
 * B's listening connection is killed, B's subscribers are told to reset once B listens
 * again, and B's events go on in a new epoch.
 */
const describeOnPostgres = usingPostgres ? describe : describe.skip;

async function listen(app: TestApp): Promise<string> {
  await app.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.app.getHttpServer().address() as AddressInfo).port}`;
}

describeOnPostgres(
  `the change stream on two instances${usingPostgres ? '' : ' (skipped: DATABASE_URL is not set)'}`,
  () => {
    const a = useTestApp();
    const b = useTestApp({ KEY_CHANGES_HEARTBEAT_SECONDS: 1 });
    let baseB: string;
    let caller: string;
    const streams: SseStream[] = [];
    const delays: number[] = [];

    beforeAll(async () => {
      baseB = await listen(b);
      caller = (await makeClientWithKey(a, ['admin:introspect'])).key.key;
    });
    afterAll(() => {
      for (const s of streams) s.close();
      if (delays.length) process.stdout.write(`change through A seen on B's stream after: ${delays.join(', ')} ms\n`);
    });

    const subscribe = async (headers: Record<string, string> = {}) => {
      const stream = await SseStream.open(`${baseB}/v1/key-changes`, { authorization: `Bearer ${caller}`, ...headers });
      streams.push(stream);
      expect(stream.status).toBe(200);
      await stream.next((e) => e.event === 'ready', 'ready');
      return stream;
    };

    it('should send a subscriber of B the changes made through A', async () => {
      const stream = await subscribe();
      const client = await makeClient(a);
      const key = await makeKey(a, client.id);
      await stream.next((e) => e.event === 'key' && JSON.parse(e.data).key_id === key.id, 'the new key');
      for (let i = 0; i < 5; i++) {
        const seen = stream.events.length;
        const started = Date.now();
        expect((await a.patch(`/v1/keys/${key.id}`, { name: `renamed-${i}` })).status).toBe(200);
        await stream.next((e) => e.event === 'key' && JSON.parse(e.data).change === 'updated', 'the rename', seen);
        delays.push(Date.now() - started);
      }
      const seen = stream.events.length;
      expect((await a.post(`/v1/keys/${key.id}/revoke`, {})).status).toBe(200);
      const revoked = await stream.next((e) => e.event === 'key', 'the revocation', seen);
      expect(JSON.parse(revoked.data)).toEqual({ key_id: key.id, client_id: client.id, change: 'revoked' });
      expect(stream.raw).not.toContain(key.key);
      // A numbers its changes in its own epoch: B's ids are B's.
      expect(revoked.id!.startsWith(`${b.app.get(KeyChangeFeed).epoch}-`)).toBe(true);
      expect(a.app.get(KeyChangeFeed).epoch).not.toBe(b.app.get(KeyChangeFeed).epoch);
    });

    it("should reset B's subscribers once B listens again after its listening connection was killed", async () => {
      const stream = await subscribe();
      const feedB = b.app.get(KeyChangeFeed);
      const before = feedB.epoch;
      const listener = b.app.get(KeyChangeListener);
      const pid = (listener as unknown as { client: { processID: number } | null }).client?.processID;
      expect(pid).toEqual(expect.any(Number));
      // As an operator would, but only B's listener, on this database.
      await a.app.get(DataSource).query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'keyhouse-listener' AND datname = current_database() AND pid = $1`,
        [pid],
      );
      const reset = await stream.next((e) => e.event === 'reset', 'the reset', 0, 10_000);
      expect(JSON.parse(reset.data)).toEqual({ reason: 'notifications_lost' });
      expect(feedB.epoch).not.toBe(before);
      expect(reset.id).toBe(`${feedB.epoch}-0`);

      // An id of the old epoch is not resumed from: another reset.
      const stale = await SseStream.open(`${baseB}/v1/key-changes`, {
        authorization: `Bearer ${caller}`,
        'last-event-id': `${before}-1`,
      });
      streams.push(stale);
      expect(JSON.parse((await stale.next((e) => e.event === 'reset', 'a reset')).data)).toEqual({
        reason: 'unknown_stream',
      });

      // Changes keep coming, numbered in the new epoch from 1.
      const client = await makeClient(a);
      const seen = stream.events.length;
      const key = await makeKey(a, client.id);
      const created = await stream.next(
        (e) => e.event === 'key' && JSON.parse(e.data).key_id === key.id,
        'the key',
        seen,
      );
      expect(created.id).toBe(`${feedB.epoch}-1`);
    });
  },
);
