import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorResponse {
  /** JSON pointer to the offending field, e.g. `#/scopes/0`. */
  @ApiProperty({ example: '#/name' })
  pointer!: string;

  @ApiProperty({ example: 'name must be shorter than or equal to 200 characters' })
  detail!: string;
}

export class RefusedScopeResponse {
  @ApiProperty({ example: 'orders:*' })
  scope!: string;

  /** `not_held`: the granting key's scopes do not cover it; `root_only`: only root keys grant it; `outside_ceiling`: the client's `allowed_scopes` do not cover it. */
  @ApiProperty({ enum: ['not_held', 'root_only', 'outside_ceiling'], example: 'not_held' })
  reason!: string;
}

export class ConflictingKeyResponse {
  @ApiProperty({ format: 'uuid', example: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' })
  key_id!: string;

  /** The key's scopes that the new `allowed_scopes` would not cover. */
  @ApiProperty({ type: [String], example: ['billing:refund'] })
  scopes_outside!: string[];
}

/** RFC 9457 problem details, sent as `application/problem+json`. */
export class ProblemResponse {
  @ApiProperty({ example: 'urn:keyhouse:problem:not-found' })
  type!: string;

  @ApiProperty({ example: 'Not Found' })
  title!: string;

  @ApiProperty({ type: 'integer', example: 404 })
  status!: number;

  @ApiPropertyOptional({ example: 'No key with that id.' })
  detail?: string;

  @ApiPropertyOptional({ example: '/v1/keys/6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11' })
  instance?: string;

  @ApiPropertyOptional({ example: '8f14e45f-ceea-467f-a0e6-1a2b3c4d5e6f' })
  request_id?: string;

  /** Present on 400s: one entry per invalid field. */
  @ApiPropertyOptional({ type: [FieldErrorResponse] })
  errors?: FieldErrorResponse[];

  /** On a 403 for a missing scope: the scopes the operation requires. */
  @ApiPropertyOptional({ type: [String], example: ['admin:keys:write'] })
  required_scopes?: string[];

  /** On a 409 for rotating a key a second time: the successor to rotate instead. */
  @ApiPropertyOptional({ type: String, format: 'uuid', example: '9a7d3c52-8e41-4b6f-b0d2-5c3e1f7a9b80' })
  replaced_by?: string;

  /** On a 409 for rotating or changing a key that is not good: its status. */
  @ApiPropertyOptional({ enum: ['expired', 'revoked'], example: 'revoked' })
  key_status?: string;

  /** On a 403 for a grant (issue, patch, rotate): each scope that may not be granted, and why. */
  @ApiPropertyOptional({ type: [RefusedScopeResponse] })
  refused_scopes?: RefusedScopeResponse[];

  /** On a 403 for moving an expiry later: the latest expiry this key may set. */
  @ApiPropertyOptional({ type: String, format: 'date-time', example: '2027-01-01T00:00:00.000Z' })
  expires_at_limit?: string;

  /** On a 409 for narrowing a client's `allowed_scopes`: the first 20 keys holding scopes outside it. */
  @ApiPropertyOptional({ type: [ConflictingKeyResponse] })
  conflicting_keys?: ConflictingKeyResponse[];

  /** On the same 409: how many such keys there are in all. */
  @ApiPropertyOptional({ type: 'integer', example: 1 })
  conflicting_key_count?: number;

  /** On a 409 for deleting a scope: how many keys still hold it. */
  @ApiPropertyOptional({ type: 'integer', example: 2 })
  holders?: number;
}
