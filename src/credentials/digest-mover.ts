import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { Metrics } from '../metrics/metrics';
import { type DigestMove, KeysRepository } from '../store/keys.repository';
import { KeyDigest } from './key-digest';

/** How often found keys are moved to the current digest secret, in one statement. */
const MOVE_INTERVAL_MS = 1000;
/** Moves held at most; past that a key waits for its next use (it still verifies meanwhile). */
const MAX_PENDING = 10_000;

/**
 * Moves keys verified under an older digest secret (KEY_HASH_SECRETS) to the current one, off
 * the request: the verifier queues the move and answers at once; every MOVE_INTERVAL_MS the
 * queued moves are written in one conditional UPDATE (a row moves only if it still has the
 * digest it was found under, so instances with different secret lists never undo each other's
 * newer write and a row is written once per move). A failed write is logged and dropped: the
 * key still verifies under its old secret and is queued again when next used.
 *
 * Also exports how many keys still depend on each secret, so an old one is retired only once
 * nothing live needs it: `keyhouse_keys_by_digest_secret{secret,state}`.
 */
@Injectable()
export class DigestMover implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DigestMover.name);
  private pending = new Map<string, DigestMove>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly moved: Counter;
  private readonly bySecret: Gauge;

  constructor(
    private readonly keys: KeysRepository,
    private readonly digest: KeyDigest,
    metrics: Metrics,
  ) {
    this.moved = new Counter({
      name: 'keyhouse_key_digest_moves_total',
      help: 'Keys moved to the current digest secret after being verified under an older one, by result.',
      labelNames: ['result'] as const,
      registers: [metrics.registry],
    });
    this.bySecret = new Gauge({
      name: 'keyhouse_keys_by_digest_secret',
      help: 'Keys neither revoked nor run out, by the digest secret they depend on: current, older (still configured) or unconfigured (unknown to this instance: those keys fail).',
      labelNames: ['secret', 'state'] as const,
      registers: [metrics.registry],
      collect: () => this.collectCounts(),
    });
  }

  onModuleInit(): void {
    for (const result of ['moved', 'skipped', 'failed']) this.moved.inc({ result }, 0);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Queues a key found under `from` to be stored under the current secret's `to`. Never waits. */
  enqueue(keyId: string, from: string, to: string): void {
    if (this.pending.size >= MAX_PENDING && !this.pending.has(keyId)) return;
    this.pending.set(keyId, { keyId, from, to, secretId: this.digest.currentId });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, MOVE_INTERVAL_MS).unref();
  }

  /** Writes the queued moves now (after any write under way). */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const moves = [...this.pending.values()];
    this.pending = new Map();
    try {
      const moved = await this.keys.moveDigests(moves);
      this.moved.inc({ result: 'moved' }, moved);
      this.moved.inc({ result: 'skipped' }, moves.length - moved);
    } catch (err) {
      this.moved.inc({ result: 'failed' }, moves.length);
      this.logger.warn(`${moves.length} keys not moved to digest secret ${this.digest.currentId}: ${String(err)}`);
    }
  }

  /** One grouped count per scrape (an index on digest_secret; the keys' own rows decide which are live). */
  private async collectCounts(): Promise<void> {
    let counts: Map<string, number>;
    try {
      counts = await this.keys.countLiveBySecret();
    } catch {
      this.bySecret.reset(); // the database does not answer: no figure rather than a stale one
      return;
    }
    this.bySecret.reset();
    for (const id of new Set([...this.digest.ids, ...counts.keys()])) {
      const state = id === this.digest.currentId ? 'current' : this.digest.ids.includes(id) ? 'older' : 'unconfigured';
      this.bySecret.set({ secret: id, state }, counts.get(id) ?? 0);
    }
  }
}
