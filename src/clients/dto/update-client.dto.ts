import { PartialType } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { CLIENT_STATUSES, type ClientStatus } from '../client.entity';
import { CreateClientDto } from './create-client.dto';

export class UpdateClientDto extends PartialType(CreateClientDto) {
  /** `suspended` makes every key of the client inactive at once; `active` restores them. */
  @IsOptional() @IsIn(CLIENT_STATUSES)
  status?: ClientStatus;
}
