import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class PageQueryDto {
  /** Items per page, 1 to 200. */
  @ApiPropertyOptional({ type: 'integer', default: 50 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  limit: number = 50;

  /** The `next_cursor` of the previous page. */
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}
