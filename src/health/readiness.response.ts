import { ApiProperty } from '@nestjs/swagger';

export const CHECK_STATUSES = ['up', 'down', 'disabled'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export const READINESS_STATUSES = ['ok', 'degraded', 'unavailable'] as const;
export type ReadinessStatus = (typeof READINESS_STATUSES)[number];

/** One dependency as readiness sees it. */
export class ReadinessCheck {
  @ApiProperty({
    enum: CHECK_STATUSES,
    example: 'up',
    description: '`disabled`: not configured (Redis without `REDIS_URL`).',
  })
  status!: CheckStatus;
  /** Whether the instance is ready without it: a required check that is down makes it unavailable (503), any other degraded (200). */
  @ApiProperty({ example: true })
  required!: boolean;
  /** What a check that is not up means for the service. */
  @ApiProperty({ required: false, maxLength: 200, example: 'rate limits are counted per instance until Redis answers' })
  impact?: string;
  /** Why it is down, when known: on the management listener only (a driver's error names private hosts). */
  @ApiProperty({ required: false, maxLength: 2000, example: 'timeout of 2000ms exceeded' })
  message?: string;
  /** usage only: age in seconds of the oldest usage count not yet written. */
  @ApiProperty({ required: false, example: 0 })
  lag_seconds?: number;
  /** usage only: when usage writes began to fail, or null. */
  @ApiProperty({ required: false, type: String, format: 'date-time', nullable: true, example: null })
  failing_since?: string | null;
}

export class ReadinessChecks {
  /** PostgreSQL or the embedded database answers a query. Required. */
  database!: ReadinessCheck;
  /** Usage counts are being written (the oldest unwritten count is younger than two flush intervals and two statement timeouts). Required. */
  usage!: ReadinessCheck;
  /** Redis answers a PING, so rate limits are shared by every instance. Optional. */
  redis!: ReadinessCheck;
  /** This instance listens for key and client changes (LISTEN), so its cache drops a revoked key at once. Optional. */
  change_listener!: ReadinessCheck;
}

/** Whether this instance should take traffic, and what it depends on. */
export class ReadinessResponse {
  @ApiProperty({
    enum: READINESS_STATUSES,
    example: 'ok',
    description:
      '`ok`: every check is up (or disabled). `degraded`: a required check is up but an optional one is down; still ready (200). `unavailable`: a required check is down (503).',
  })
  status!: ReadinessStatus;
  /** The checks that are down, required or not: empty when `ok`. */
  @ApiProperty({
    example: [],
    maxItems: 4,
    items: { type: 'string', enum: ['database', 'usage', 'redis', 'change_listener'] },
  })
  down!: string[];
  checks!: ReadinessChecks;
}

export class LivenessResponse {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}
