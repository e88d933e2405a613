import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { VerifiedKey } from '../credentials/key-verifier';
import { rawPool } from '../database/raw-pool';

/** Atomic: of any number of concurrent calls, exactly `remaining` get a row back. */
const CONSUME_USE = 'UPDATE api_keys SET remaining = remaining - 1 WHERE id = $1 AND remaining > 0 RETURNING remaining';

/**
 * Usage limits: each good call of a key that has one takes one use, in the database,
 * since the count is shared by every instance. Once a key is used up, the cached
 * record says so, and later calls cost no query until the record changes (a new
 * usage limit rewrites the row, which drops the record from every cache).
 */
@Injectable()
export class UsageLimit {
  private readonly exhausted = new WeakSet<VerifiedKey>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  knownExhausted(key: VerifiedKey): boolean {
    return this.exhausted.has(key);
  }

  /** Takes one use; false when none is left. */
  async take(key: VerifiedKey): Promise<boolean> {
    const { rows } = await rawPool(this.dataSource).query<{ remaining: number }>({ name: 'keyhouse_consume_use', text: CONSUME_USE, values: [key.keyId] });
    if (rows.length > 0) return true;
    this.exhausted.add(key);
    return false;
  }
}
