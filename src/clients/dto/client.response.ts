import { ApiProperty } from '@nestjs/swagger';
import { CLIENT_STATUSES, type ClientStatus } from '../../store/client.entity';

export class ClientResponse {
  /** @example "0b7e7dc4-1b4e-4c53-a7b2-6f2e8f2f4c11" */
  id!: string;
  /** @example "checkout-service" */
  name!: string;
  /** @example "Checkout service, team Payments" */
  description!: string;
  @ApiProperty({ enum: CLIENT_STATUSES, example: 'active' })
  status!: ClientStatus;
  /** The ceiling on the client's keys; empty means none of its own. @example ["orders:*"] */
  allowed_scopes!: string[];
  /** @example {"team": "payments"} */
  metadata!: Record<string, unknown>;
  /** @example "2026-01-01T12:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  created_at!: string;
  /** @example "2026-01-01T12:00:00.000Z" */
  @ApiProperty({ format: 'date-time' })
  updated_at!: string;
}

export class ClientPage {
  data!: ClientResponse[];
  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI2ZjFjMWU5ZS0zYjBhLTRmNTctOWQzNi0wZDFmMGUwYjdhMTEiXQ',
  })
  next_cursor!: string | null;
}
