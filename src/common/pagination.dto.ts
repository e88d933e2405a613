import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

/** An integer as a query writes it: decimal digits, no sign, space, exponent, other base or leading zero. Anything else stays text, which IsInt refuses. */
const DECIMAL = /^(0|[1-9][0-9]{0,8})$/;

export class PageQueryDto {
  /** Items per page, 1 to 200. */
  @ApiPropertyOptional({ type: 'integer', default: 50 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(200)
  limit: number = 50;

  /** The `next_cursor` of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}
