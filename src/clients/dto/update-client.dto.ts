import { PartialType } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { IsOmittable } from '../../common/validators';
import { CLIENT_STATUSES, type ClientStatus } from '../../store/client.entity';
import { CreateClientDto } from './create-client.dto';

export class UpdateClientDto extends PartialType(CreateClientDto, { skipNullProperties: false }) {
  /** `suspended` makes every key of the client inactive at once; `active` restores them. */
  @IsOmittable()
  @IsIn(CLIENT_STATUSES)
  status?: ClientStatus;
}
