import { ApiProperty } from '@nestjs/swagger';

/** Whether the reported key was one of ours, and whether this report revoked it. Never the key. */
export class LeakedKeyResponse {
  /** True when the key is well formed and Keyhouse issued it. */
  matched!: boolean;
  /** True when this report revoked it; false when it was no key, or already revoked or expired. */
  revoked!: boolean;
  /** The matched key's id, only when it belongs to the reporter's client (or the reporter holds a root key). */
  @ApiProperty({ required: false, format: 'uuid' })
  key_id?: string;
  /** The matched key's hint, under the same condition as `key_id`. @example "sk_live_7Gq2...x9Qa" */
  @ApiProperty({ required: false })
  hint?: string;
}
