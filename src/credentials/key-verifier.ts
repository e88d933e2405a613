import { Injectable } from '@nestjs/common';
import { DatabaseUnavailable } from '../common/errors';
import { type FoundKeyRow, KeysRepository } from '../store/keys.repository';
import { DigestMover } from './digest-mover';
import { isExampleKey } from './example-keys';
import { KeyCache } from './key-cache';
import { failedCheck, type InactiveReason, type Requirements } from './key-checks';
import { KeyDigest } from './key-digest';
import { parseKey } from './key-format';
import { KeyRecord, keyRecordFromRow } from './key-record';

export type { InactiveReason, Requirements } from './key-checks';

export type Verdict =
  { active: true; record: KeyRecord } | { active: false; reason: InactiveReason; record?: KeyRecord };

/**
 * The one verification path: format and checksum, digest, cached lookup, and the
 * checks every caller of Keyhouse (admin or introspected) must pass.
 */
@Injectable()
export class KeyVerifier {
  /** Queries under way, by digest, with the cache epoch they began in. */
  private readonly inflight = new Map<string, { epoch: number; answer: Promise<KeyRecord | null> }>();
  /**
   * Digests a query found a key for, the most recent KNOWN_KEYS to 2 × KNOWN_KEYS of them (two
   * generations of sets): only the digest, never a decision (those live in the cache, for its
   * TTL). An attacker cannot make one without holding a real key, so the failure throttle may
   * still look these up.
   */
  private known = new Set<string>();
  private knownBefore = new Set<string>();

  constructor(
    private readonly keys: KeysRepository,
    private readonly digest: KeyDigest,
    private readonly cache: KeyCache,
    private readonly mover: DigestMover,
  ) {}

  async verify(token: string, required: Requirements = {}, now = Date.now()): Promise<Verdict> {
    return this.verifyNow(token, required, now);
  }

  /**
   * The same verdict, given at once when the format or the cache decides it: a promise
   * only when the database must be asked. The hot path answers most calls this way,
   * without a promise per step.
   */
  verifyNow(token: string, required: Requirements = {}, now = Date.now()): Verdict | Promise<Verdict> {
    // The documented example keys are well formed but published: never good.
    if (!parseKey(token) || isExampleKey(token)) return MALFORMED;
    const digest = this.digest.of(token);
    // find(), written out: a cached key is judged without a union to test.
    const cached = this.cache.get(digest);
    if (cached !== undefined) return judge(cached, required, now);
    return this.fetch(digest, token).then((record) => judge(record, required, now));
  }

  /**
   * Whether verifying `token` would query the database for a key that no query of this
   * instance has found yet: well formed, not in the cache, and not among the digests found
   * before. An address over its failure limit is refused those before the lookup; a key
   * found before is looked up again when its cache entry ends, so good keys in use keep
   * passing from an address that also sends bad ones (a gateway's, a shared NAT's).
   */
  wouldQueryUnknownKey(token: string): boolean {
    if (parseKey(token) === null || isExampleKey(token)) return false;
    const digest = this.digest.of(token);
    return this.cache.get(digest) === undefined && !this.known.has(digest) && !this.knownBefore.has(digest);
  }

  /**
   * The key with this digest (under the current digest secret only: a key not yet moved from
   * an older one is found by verify): from the cache at once, else a promise of one indexed query.
   * With the cache on, concurrent misses for one digest share a query: when an entry
   * expires under load, every connection asking for that key would otherwise query at
   * once. A miss after a change to its key was announced does not join a query begun
   * before it, whose row may be stale.
   */
  find(digest: string): KeyRecord | null | Promise<KeyRecord | null> {
    const cached = this.cache.get(digest);
    return cached !== undefined ? cached : this.fetch(digest);
  }

  /**
   * A cache miss: the query, shared by concurrent misses of one digest. Promise chains
   * rather than async functions: with the cache off every call comes here, and each
   * async layer adds promises and turns of the microtask queue.
   */
  private fetch(digest: string, token?: string): Promise<KeyRecord | null> {
    const startedAt = this.cache.begin();
    if (!this.cache.enabled) return this.query(digest, startedAt, token);
    const pending = this.inflight.get(digest);
    if (pending && this.cache.current(digest, pending.epoch)) return pending.answer;
    const settled = () => {
      if (this.inflight.get(digest) === entry) this.inflight.delete(digest);
    };
    const answer = this.query(digest, startedAt, token).then(
      (record) => (settled(), record),
      (err: unknown) => {
        settled();
        throw err;
      },
    );
    const entry = { epoch: startedAt, answer };
    this.inflight.set(digest, entry);
    return answer;
  }

  private remember(digest: string): void {
    if (this.known.size >= KNOWN_KEYS) {
      this.knownBefore = this.known;
      this.known = new Set();
    }
    this.known.add(digest);
  }

  /**
   * One query for the key, under the current digest secret alone, or, while secrets rotate
   * (KEY_HASH_SECRETS lists more than one) and the key is at hand, under each of them at once.
   * Either way the answer is cached under the current digest.
   */
  private query(digest: string, startedAt: number, token?: string): Promise<KeyRecord | null> {
    const row =
      this.digest.rotating && token !== undefined
        ? this.keys.findRecordRowByDigests(this.digestsOf(token, digest)).then((found) => this.moved(found, digest))
        : this.keys.findRecordRowByDigest(digest);
    return row.then(
      (row) => {
        const record = row ? keyRecordFromRow(row) : null;
        if (record) this.remember(digest);
        this.cache.set(digest, record, startedAt);
        return record;
      },
      (err: unknown) => {
        throw new DatabaseUnavailable(err);
      },
    );
  }

  /**
   * The key's digests under every secret, the current one first. The others are made aliases
   * of it in the cache: a change to the key is announced under the digest its row has, which
   * is an older one until the key has been moved.
   */
  private digestsOf(token: string, digest: string): string[] {
    const others = this.digest.others(token);
    for (const other of others) this.cache.alias(other, digest);
    return [digest, ...others];
  }

  /** A key found under an older secret is queued to be moved to the current one; the answer does not wait. */
  private moved(row: FoundKeyRow | undefined, digest: string): FoundKeyRow | undefined {
    if (row && row.found_digest !== digest) this.mover.enqueue(row.id, row.found_digest, digest);
    return row;
  }
}

/** How many found digests make a generation of those the verifier remembers for the failure throttle. */
const KNOWN_KEYS = 10_000;

const MALFORMED: Verdict = Object.freeze({ active: false, reason: 'malformed' });
const NOT_FOUND: Verdict = Object.freeze({ active: false, reason: 'not_found' });

function judge(record: KeyRecord | null, required: Requirements, now: number): Verdict {
  if (!record) return NOT_FOUND;
  const reason = failedCheck(record, required, now);
  return reason ? { active: false, reason, record } : { active: true, record };
}
