import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.dto';
import { ENVIRONMENTS, type KeyEnvironment } from '../../credentials/key-format';
import { KEY_STATUSES, type KeyStatus } from '../../store/key-status';

export class ListKeysQueryDto extends PageQueryDto {
  @IsOptional()
  @IsUUID()
  client_id?: string;

  @ApiPropertyOptional({ enum: ENVIRONMENTS })
  @IsOptional()
  @IsIn(ENVIRONMENTS)
  environment?: KeyEnvironment;

  @ApiPropertyOptional({ enum: KEY_STATUSES })
  @IsOptional()
  @IsIn(KEY_STATUSES)
  status?: KeyStatus;
}
