import type { AppConfig } from '../config/config';
import { changeFromPayload, KeyChangeFeed, parseEventId } from './key-change-feed';

const KEY = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';
const CLIENT = '0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11';
const feedOf = (events: number) => new KeyChangeFeed({ KEY_CHANGES_BUFFER_EVENTS: events } as AppConfig);
const change = (n: number) => ({ type: 'key' as const, key_id: KEY, client_id: CLIENT, change: `c${'x'.repeat(n)}` });

describe('KeyChangeFeed', () => {
  it('should read the channel payloads and refuse anything else', () => {
    expect(changeFromPayload(`k:${KEY}:${CLIENT}:revoked`)).toEqual({
      type: 'key',
      key_id: KEY,
      client_id: CLIENT,
      change: 'revoked',
    });
    expect(changeFromPayload(`c:${CLIENT}:suspended`)).toEqual({
      type: 'client',
      client_id: CLIENT,
      change: 'suspended',
    });
    for (const bad of [
      `k:${'a'.repeat(64)}`, // an invalidation payload: a digest, never forwarded
      `k:${KEY}:${CLIENT}`,
      `k:${KEY}:${CLIENT}:revoked:more`,
      `c:${CLIENT}:"}`,
      `k:${KEY.toUpperCase()}:${CLIENT}:revoked`,
      `x:${CLIENT}:updated`,
      '',
    ])
      expect(changeFromPayload(bad)).toBeNull();
  });

  it('should parse ids as <epoch>-<seq> only', () => {
    expect(parseEventId('9f2c4e1a7b30-42')).toEqual({ epoch: '9f2c4e1a7b30', seq: 42 });
    for (const bad of ['42', '-42', 'abc-', 'abc-4x', 'abc-1e3', `abc-${'9'.repeat(16)}`])
      expect(parseEventId(bad)).toBeNull();
  });

  it('should number changes from 1, send each frame to every subscriber, and stop after unsubscribe', () => {
    const feed = feedOf(10);
    const a: string[] = [];
    const b: string[] = [];
    feed.subscribe((f) => a.push(f));
    const stopB = feed.subscribe((f) => b.push(f));
    expect(feed.headId).toBe(`${feed.epoch}-0`);
    feed.publish(change(1));
    stopB();
    feed.publish({ type: 'client', client_id: CLIENT, change: 'suspended' });
    expect(a).toEqual([
      `id: ${feed.epoch}-1\nevent: key\ndata: {"key_id":"${KEY}","client_id":"${CLIENT}","change":"cx"}\n\n`,
      `id: ${feed.epoch}-2\nevent: client\ndata: {"client_id":"${CLIENT}","change":"suspended"}\n\n`,
    ]);
    expect(b).toHaveLength(1);
    expect(feed.subscribers).toBe(1);
  });

  it('should give the frames after a position the buffer holds, and null for any other', () => {
    const feed = feedOf(3);
    for (let i = 1; i <= 5; i++) feed.publish(change(i));
    // Holds 3, 4, 5: resuming from 2 (everything after it is held) works, from 1 does not.
    expect(feed.since(`${feed.epoch}-2`)!.map((f) => f.split('\n')[0])).toEqual([
      `id: ${feed.epoch}-3`,
      `id: ${feed.epoch}-4`,
      `id: ${feed.epoch}-5`,
    ]);
    expect(feed.since(`${feed.epoch}-4`)).toHaveLength(1);
    expect(feed.since(`${feed.epoch}-5`)).toEqual([]);
    expect(feed.since(`${feed.epoch}-1`)).toBeNull();
    expect(feed.since(`${feed.epoch}-6`)).toBeNull();
    expect(feed.since('0123456789ab-5')).toBeNull();
    expect(feed.since('nonsense')).toBeNull();
  });

  it('should start a new epoch on restart, telling every subscriber to reset, with the id to go on from', () => {
    const feed = feedOf(10);
    feed.publish(change(1));
    const old = feed.epoch;
    const frames: string[] = [];
    feed.subscribe((f) => frames.push(f));
    feed.restart('notifications_lost');
    expect(feed.epoch).not.toBe(old);
    expect(frames).toEqual([`id: ${feed.epoch}-0\nevent: reset\ndata: {"reason":"notifications_lost"}\n\n`]);
    expect(feed.since(`${old}-1`)).toBeNull();
    expect(feed.since(`${feed.epoch}-0`)).toEqual([]);
    feed.publish(change(2));
    expect(feed.headId).toBe(`${feed.epoch}-1`);
  });
});
