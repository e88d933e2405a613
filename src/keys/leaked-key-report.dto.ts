import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, IsUrl, Matches, MaxLength, MinLength } from 'class-validator';
import { PRINTABLE } from '../common/validators';
import { EXAMPLE_KEYS } from '../credentials/example-keys';

/** A key found where it should not be, as a secret scanner or a person reports it. */
export class LeakedKeyReportDto {
  /** The full key as found. Never stored, logged or echoed. */
  @ApiProperty({ example: EXAMPLE_KEYS.live })
  @IsString()
  @MaxLength(200)
  key!: string;

  /** Who found it, for the audit trail. @example "github secret scanning" */
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(PRINTABLE, { message: 'source must not contain control characters' })
  source!: string;

  /** Where it was found. @example "https://github.com/acme/shop/blob/main/.env" */
  @IsOptional()
  @IsUrl({ require_protocol: true, protocols: ['http', 'https'] })
  @MaxLength(2000)
  url?: string;
}
