import { ApiProperty } from '@nestjs/swagger';

export class ScopeResponse {
  /** @example "orders:read" */
  name!: string;
  /** @example "Read orders" */
  description!: string;
  /** @example "2026-01-01T12:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
}

export class ScopePage {
  data!: ScopeResponse[];
  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI2ZjFjMWU5ZS0zYjBhLTRmNTctOWQzNi0wZDFmMGUwYjdhMTEiXQ',
  })
  next_cursor!: string | null;
}
