import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest, ApiConflict } from '../common/api-responses';
import { IdPipe } from '../common/id.pipe';
import { ProblemResponse } from '../common/problem.response';
import { ClientsService } from './clients.service';
import { ClientPage, ClientResponse } from './dto/client.response';
import { CreateClientDto } from './dto/create-client.dto';
import { ListClientsQueryDto } from './dto/list-clients.dto';
import { UpdateClientDto } from './dto/update-client.dto';

@ApiTags('clients')
@Controller('v1/clients')
export class ClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  @RequireScopes('admin:clients:write')
  @ApiOperation({
    summary: 'Create a client',
    description:
      'A client holds keys: a service, partner or customer. Root keys only. `allowed_scopes` sets a ceiling on the scopes of every key of the client.',
  })
  @ApiCreatedResponse({ type: ClientResponse })
  @ApiBadRequest()
  create(@Body() dto: CreateClientDto, @Ctx() ctx: RequestContext): Promise<ClientResponse> {
    return this.clients.create(dto, ctx);
  }

  @Get()
  @RequireScopes('admin:clients:read')
  @ApiOperation({
    summary: 'List clients',
    description: 'Newest first, keyset-paginated. A non-root key sees only its own client.',
  })
  @ApiOkResponse({ type: ClientPage })
  @ApiBadRequest()
  list(@Query() query: ListClientsQueryDto, @Ctx() ctx: RequestContext): Promise<ClientPage> {
    return this.clients.list(query, ctx.actor!);
  }

  @Get(':id')
  @RequireScopes('admin:clients:read')
  @ApiOperation({ summary: 'Get a client' })
  @ApiOkResponse({ type: ClientResponse })
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such client, or not yours.' })
  get(@Param('id', IdPipe) id: string, @Ctx() ctx: RequestContext): Promise<ClientResponse> {
    return this.clients.get(id, ctx.actor!);
  }

  @Patch(':id')
  @RequireScopes('admin:clients:write')
  @ApiOperation({
    summary: 'Change a client',
    description:
      'Rename, relabel, or suspend (`status: "suspended"`) and reactivate. Suspension makes every key of the client inactive at once. ' +
      'Only root keys may set `allowed_scopes`, the ceiling on every key of the client; it is refused (409) while keys of the client that are not revoked or expired hold scopes outside it.',
  })
  @ApiOkResponse({ type: ClientResponse })
  @ApiBadRequest()
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such client, or not yours.' })
  @ApiConflict(
    'The system client holds the root keys and cannot be suspended nor take `allowed_scopes`; or the new `allowed_scopes` would not cover scopes that keys of the client hold (`conflicting_keys`).',
  )
  update(
    @Param('id', IdPipe) id: string,
    @Body() dto: UpdateClientDto,
    @Ctx() ctx: RequestContext,
  ): Promise<ClientResponse> {
    return this.clients.update(id, dto, ctx);
  }
}
