import { ApiProperty } from '@nestjs/swagger';
import { GRANULARITIES, type Granularity } from './usage-query.dto';

const OUTCOMES_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description:
    'Calls by outcome: `valid`, or the introspection reason code (`revoked`, `expired`, `rate_limited`, ...). Outcomes with no calls are left out.',
  example: { valid: 1200, rate_limited: 3 },
} as const;

export class UsageCounts {
  /** Calls of every outcome. @example 1203 */
  total!: number;
  @ApiProperty(OUTCOMES_SCHEMA)
  outcomes!: Record<string, number>;
}

export class UsageBucket extends UsageCounts {
  /** Start of the UTC hour or day. @example "2026-01-01T13:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  start!: string;
}

export class UsageReport {
  @ApiProperty({ enum: GRANULARITIES })
  granularity!: Granularity;
  /** Start of the first bucket of the range (inclusive). @example "2026-03-01T09:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  from!: string;
  /** End of the last bucket of the range (exclusive). @example "2026-03-02T10:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  to!: string;
  /** The last use of the key (of any key of the client); exact, unlike the buckets. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-03-02T09:41:07.000Z' })
  last_used_at!: string | null;
  totals!: UsageCounts;
  /** Buckets with at least one call, oldest first; buckets without calls are left out. */
  buckets!: UsageBucket[];
}

export class KeyUsageResponse extends UsageReport {
  /** @example "6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11" */
  key_id!: string;
}

export class KeyUsageSummary {
  /** @example "6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11" */
  key_id!: string;
  /** @example "checkout production" */
  name!: string;
  /** @example "sk_live_7Gq2...x9Qa" */
  hint!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-03-02T09:41:07.000Z' })
  last_used_at!: string | null;
  totals!: UsageCounts;
}

export class ClientUsageResponse extends UsageReport {
  /** @example "0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11" */
  client_id!: string;
  /** The client's keys with calls in the range, busiest first. */
  keys!: KeyUsageSummary[];
}
