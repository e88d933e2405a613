import { IsIn, IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.dto';
import { CLIENT_STATUSES, type ClientStatus } from '../../store/client.entity';

export class ListClientsQueryDto extends PageQueryDto {
  @IsOptional()
  @IsIn(CLIENT_STATUSES)
  status?: ClientStatus;
}
