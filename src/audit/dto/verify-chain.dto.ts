import { IsOptional, Matches } from 'class-validator';

/** An anchor: an event id and hash you recorded from an earlier verification, kept outside Keyhouse. */
export class VerifyChainQueryDto {
  /** Id of the anchored event (`head_id` of an earlier answer). Give it with `anchor_hash`. @example "1042" */
  @IsOptional()
  @Matches(/^[1-9][0-9]{0,18}$/, { message: 'anchor_id must be an event id' })
  anchor_id?: string;

  /** Hash of the anchored event (`head` of an earlier answer). */
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'anchor_hash must be 64 lowercase hex characters' })
  anchor_hash?: string;
}
