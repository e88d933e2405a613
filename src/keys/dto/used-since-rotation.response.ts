import { ApiProperty } from '@nestjs/swagger';

/**
 * A rotated key's use since its rotation: what tells an operator whether callers
 * have moved to the successor. Usage is kept per hour, so `count` starts at
 * `counted_from`, the start of the hour of the rotation; `last_used_at` is exact.
 */
export class UsedSinceRotationResponse {
  /** When the key was rotated (its successor's creation). @example "2026-03-01T09:12:44.123Z" */
  @ApiProperty({ format: 'date-time' })
  rotated_at!: string;
  /** Start of the UTC hour of the rotation: where `count` begins. @example "2026-03-01T09:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  counted_from!: string;
  /** Calls presenting this key since `counted_from`, of every outcome. @example 42 */
  count!: number;
  /** The key's last use if it came after the rotation, else null. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-03-01T15:42:10.000Z' })
  last_used_at!: string | null;
}
