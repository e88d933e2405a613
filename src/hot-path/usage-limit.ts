import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { KeyRecord } from '../credentials/key-record';
import { rawPool } from '../database/raw-pool';

/**
 * The key whose count a use of `$1` draws on: the key itself, or, once it has been
 * rotated, the newest key of its rotation chain. A key in its grace period shares
 * the uses it handed to its successor instead of spending them a second time.
 */
const HEAD_OF_CHAIN = `
  WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM api_keys WHERE id = $1
    UNION ALL
    SELECT k.replaced_by, c.depth + 1 FROM chain c JOIN api_keys k ON k.id = c.id WHERE k.replaced_by IS NOT NULL AND c.depth < 100
  )
  SELECT id FROM chain ORDER BY depth DESC LIMIT 1`;

/**
 * Atomic: of any number of concurrent calls, exactly `remaining` get a row back. A key
 * rotated while the statement waited for its row is skipped (`replaced_by IS NULL` is
 * checked again on the row as committed), so no use is taken from a count the
 * rotation has already handed on.
 */
const CONSUME_USE = `
  WITH head AS (${HEAD_OF_CHAIN})
  UPDATE api_keys SET remaining = remaining - 1
   WHERE id = (SELECT id FROM head) AND remaining > 0 AND replaced_by IS NULL
  RETURNING remaining`;

/** Why CONSUME_USE took nothing: the head's count now (null: no limit), and whether it has been rotated meanwhile. */
const HEAD_STATE = `
  WITH head AS (${HEAD_OF_CHAIN})
  SELECT remaining, replaced_by IS NOT NULL AS rotated FROM api_keys WHERE id = (SELECT id FROM head)`;

/** Rotations racing one use: each lost race moves the head one key on, so a few tries always settle it. */
const MAX_TRIES = 5;

/**
 * Usage limits: each good call of a key that has one takes one use, in the database,
 * since the count is shared by every instance. Once a key is used up, the cached
 * record says so, and later calls cost no query until the record changes (a new
 * usage limit rewrites the row, which drops the record from every cache).
 */
@Injectable()
export class UsageLimit {
  private readonly exhausted = new WeakSet<KeyRecord>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  knownExhausted(key: KeyRecord): boolean {
    return this.exhausted.has(key);
  }

  /** Takes one use; false when none is left. */
  async take(key: KeyRecord): Promise<boolean> {
    const pool = rawPool(this.dataSource);
    for (let attempt = 1; ; attempt++) {
      const { rows } = await pool.query<{ remaining: number }>({
        name: 'keyhouse_consume_use',
        text: CONSUME_USE,
        values: [key.keyId],
      });
      if (rows.length > 0) return true;
      // Nothing taken: used up, or the head of the chain moved (a rotation committed meanwhile), or it has no limit.
      const { rows: state } = await pool.query<{ remaining: number | null; rotated: boolean }>({
        name: 'keyhouse_use_state',
        text: HEAD_STATE,
        values: [key.keyId],
      });
      const head = state[0];
      if (head && head.remaining === null) return true;
      if (!head || (head.remaining === 0 && !head.rotated) || attempt >= MAX_TRIES) break;
    }
    this.exhausted.add(key);
    return false;
  }
}
