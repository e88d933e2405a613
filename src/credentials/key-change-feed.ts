import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/config';

/** The channel the triggers of migration KeyChangeStream announce changes on, for the change stream. */
export const CHANGES_CHANNEL = 'keyhouse_key_changes';

/** A change that can alter an introspection answer, as the change stream sends it: ids and a kind, never a secret. */
export type KeyChange =
  | { type: 'key'; key_id: string; client_id: string; change: string }
  | { type: 'client'; client_id: string; change: string };

/** Receives the feed's frames: Server-Sent Events text, each one whole. */
export type FeedListener = (frame: string) => void;

interface Buffered {
  seq: number;
  frame: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHANGE = /^[a-z_]{1,32}$/;

/**
 * Reads one payload of the changes channel: `k:<key id>:<client id>:<change>` or
 * `c:<client id>:<change>`. Anything else is null (and sent to nobody).
 */
export function changeFromPayload(payload: string): KeyChange | null {
  const parts = payload.split(':');
  if (parts[0] === 'k' && parts.length === 4) {
    const [, keyId, clientId, change] = parts as [string, string, string, string];
    if (UUID.test(keyId) && UUID.test(clientId) && CHANGE.test(change))
      return { type: 'key', key_id: keyId, client_id: clientId, change };
  } else if (parts[0] === 'c' && parts.length === 3) {
    const [, clientId, change] = parts as [string, string, string];
    if (UUID.test(clientId) && CHANGE.test(change)) return { type: 'client', client_id: clientId, change };
  }
  return null;
}

/**
 * What is a position in the feed: `<epoch>-<seq>`. The epoch names one run of this
 * instance's buffer (a new one at start and whenever notifications may have been lost),
 * the sequence number counts the changes within it, from 1.
 */
export function parseEventId(id: string): { epoch: string; seq: number } | null {
  const dash = id.lastIndexOf('-');
  if (dash <= 0) return null;
  const digits = id.slice(dash + 1);
  if (!/^\d{1,15}$/.test(digits)) return null;
  return { epoch: id.slice(0, dash), seq: Number(digits) };
}

/**
 * The change stream's source on this instance: every change announced by the database
 * (KeyChangeListener hands them over), numbered within an epoch and kept in a bounded
 * buffer, so a subscriber that reconnects with the id of the last event it saw gets the
 * ones it missed, in order, or is told to start over (a reset) when the buffer cannot
 * say. Frames are written once, as Server-Sent Events text, and shared by every
 * subscriber.
 */
@Injectable()
export class KeyChangeFeed {
  private epochId = newEpoch();
  private seq = 0;
  private readonly capacity: number;
  private readonly buffer: Buffered[] = [];
  private readonly listeners = new Set<FeedListener>();

  constructor(config: AppConfig) {
    this.capacity = config.KEY_CHANGES_BUFFER_EVENTS;
  }

  get epoch(): string {
    return this.epochId;
  }

  /** The id of the last change in this epoch (`<epoch>-0` before the first). */
  get headId(): string {
    return `${this.epochId}-${this.seq}`;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Numbers the change, keeps it and sends it to every subscriber. */
  publish(change: KeyChange): void {
    this.seq++;
    const { type, ...data } = change;
    const frame = `id: ${this.epochId}-${this.seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    this.buffer.push({ seq: this.seq, frame });
    if (this.buffer.length > this.capacity) this.buffer.shift();
    for (const listener of this.listeners) listener(frame);
  }

  /**
   * Changes may have been lost (the database connection that announces them was lost):
   * a new epoch, an empty buffer, and every subscriber told to clear what it cached.
   */
  restart(reason: string): void {
    this.epochId = newEpoch();
    this.seq = 0;
    this.buffer.length = 0;
    const frame = resetFrame(this.headId, reason);
    for (const listener of this.listeners) listener(frame);
  }

  /**
   * The frames after `lastEventId`, oldest first, or null when the buffer cannot give
   * them: another epoch (an earlier run, another instance), a position it no longer
   * holds, or one it never reached.
   */
  since(lastEventId: string): string[] | null {
    const at = parseEventId(lastEventId);
    if (at === null || at.epoch !== this.epochId || at.seq > this.seq) return null;
    if (at.seq === this.seq) return [];
    const oldest = this.buffer.length ? this.buffer[0].seq : this.seq + 1;
    if (at.seq < oldest - 1) return null;
    return this.buffer.slice(at.seq - oldest + 1).map((b) => b.frame);
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A reset, with the id to resume from afterwards. */
export function resetFrame(id: string, reason: string): string {
  return `id: ${id}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`;
}

function newEpoch(): string {
  return randomBytes(6).toString('hex');
}
