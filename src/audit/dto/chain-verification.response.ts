import { ApiProperty } from '@nestjs/swagger';

const PROBLEMS = ['hash_mismatch', 'prev_hash_mismatch', 'anchor_mismatch', 'anchor_missing'];

/** The verdict on the whole audit chain: intact, or where it first breaks. */
export class ChainVerificationResponse {
  /** True when every event hashes to its stored hash and links to the one before it. @example true */
  ok!: boolean;
  /** Events found intact, from the first, before the walk ended or broke. @example 1042 */
  checked!: number;
  /** When intact: the hash of the newest event (the genesis hash, 64 zeros, for an empty trail). Record it with `head_id` as an anchor. */
  @ApiProperty({ required: false, example: '3b9f6c0d2e8a4f1b7c5d9e0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c' })
  head?: string;
  /** When intact: the id of the newest event. */
  @ApiProperty({ required: false, type: String, nullable: true, example: '1042' })
  head_id?: string | null;
  /** When broken: the id of the first event that does not verify (for `anchor_missing`, the anchor's id). */
  @ApiProperty({ required: false, example: '517' })
  broken_at?: string;
  /**
   * When broken: `hash_mismatch` (the event's content was changed), `prev_hash_mismatch` (an event
   * before it was removed, inserted, reordered or rewritten), `anchor_mismatch` or `anchor_missing`
   * (the anchored event differs or is gone: the chain was rewritten or cut short).
   */
  @ApiProperty({ required: false, enum: PROBLEMS })
  problem?: string;
}
