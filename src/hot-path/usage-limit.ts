import { Injectable } from '@nestjs/common';
import type { KeyRecord } from '../credentials/key-record';
import { KeysRepository } from '../store/keys.repository';

/**
 * Usage limits: each good call of a key that has one takes one use, in the database,
 * since the count is shared by every instance. Once a key is used up, the cached
 * record says so, and later calls cost no query until the record changes (a new
 * usage limit rewrites the row, which drops the record from every cache).
 */
@Injectable()
export class UsageLimit {
  private readonly exhausted = new WeakSet<KeyRecord>();

  constructor(private readonly keys: KeysRepository) {}

  knownExhausted(key: KeyRecord): boolean {
    return this.exhausted.has(key);
  }

  /** Takes one use; false when none is left. */
  take(key: KeyRecord): Promise<boolean> {
    return this.keys.takeUse(key.keyId).then((taken) => {
      if (!taken) this.exhausted.add(key);
      return taken;
    });
  }
}
