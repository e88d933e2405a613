import { ApiProperty } from '@nestjs/swagger';

export class AuditEventResponse {
  /** Position in the chain. @example "42" */
  id!: string;
  /** @example "2026-01-01T12:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  occurred_at!: string;
  /** The key that made the change; null for the service itself (bootstrap), and, to a non-root reader, for any key not of its own client (an operator's). */
  @ApiProperty({ type: String, nullable: true, example: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' })
  actor_key_id!: string | null;
  /** @example "key.revoked" */
  action!: string;
  /** @example "key" */
  target_type!: string;
  /** @example "6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11" */
  target_id!: string;
  /** The client the target belongs to. */
  @ApiProperty({ type: String, nullable: true, example: '0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11' })
  client_id!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '8f14e45f-ceea-467f-a0e6-1a2b3c4d5e6f' })
  request_id!: string | null;
  /** The caller's address; null to non-root readers, who see no addresses. */
  @ApiProperty({ type: String, nullable: true, example: '203.0.113.7' })
  source_ip!: string | null;
  /** What changed; never a secret. To a non-root reader, a key id of another client in it (`reported_by`) is null. @example {"reason": "compromised"} */
  changes!: Record<string, unknown>;
  /** SHA-256 of the previous event's hash and this event's content; null to non-root readers (it covers the fields they do not see). */
  @ApiProperty({
    type: String,
    nullable: true,
    example: '9c1185a5c5e9fc54612808977ee8f548b2258d31a7f1b5a1c0c7e1f4d7a0b6e3',
  })
  hash!: string | null;
  /** The hash of the event before this one in the chain; null to non-root readers. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: '2f0d8c4b6a1e9d3c7b5a4f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c',
  })
  prev_hash!: string | null;
}

export class AuditEventPage {
  data!: AuditEventResponse[];
  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI2ZjFjMWU5ZS0zYjBhLTRmNTctOWQzNi0wZDFmMGUwYjdhMTEiXQ',
  })
  next_cursor!: string | null;
}
