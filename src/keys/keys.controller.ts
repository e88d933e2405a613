import { applyDecorators, Body, Controller, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest, ApiConflict } from '../common/api-responses';
import { IdPipe } from '../common/id.pipe';
import { ProblemResponse } from '../common/problem.response';
import { IssuedKeyResponse, KeyPage, KeyResponse } from './dto/key.response';
import { IssueKeyDto } from './dto/issue-key.dto';
import { ListKeysQueryDto } from './dto/list-keys.dto';
import { RevokeKeyDto } from './dto/revoke-key.dto';
import { RotateKeyDto } from './dto/rotate-key.dto';
import { UpdateKeyDto } from './dto/update-key.dto';
import { KeysService } from './keys.service';

const NOT_FOUND = { type: ProblemResponse, description: 'No such key, or not yours.' };

/** A 201 that carries a full key: no cache, shared or private, may keep it. */
const IssuedKey = (description?: string) =>
  applyDecorators(
    Header('Cache-Control', 'no-store'),
    ApiCreatedResponse({
      type: IssuedKeyResponse,
      description,
      headers: {
        'Cache-Control': {
          description: 'Always `no-store`: the answer carries a secret.',
          schema: { type: 'string', example: 'no-store' },
        },
      },
    }),
  );

@ApiTags('keys')
@Controller('v1')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Post('clients/:id/keys')
  @RequireScopes('admin:keys:write')
  @ApiOperation({
    summary: 'Issue a key',
    description:
      'Creates a key for the client. The response is the only time the full key (`key`) is ever sent: store it now.',
  })
  @IssuedKey()
  @ApiBadRequest()
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such client, or not yours.' })
  issue(
    @Param('id', IdPipe) clientId: string,
    @Body() dto: IssueKeyDto,
    @Ctx() ctx: RequestContext,
  ): Promise<IssuedKeyResponse> {
    return this.keys.issue(clientId, dto, ctx);
  }

  @Get('keys')
  @RequireScopes('admin:keys:read')
  @ApiOperation({
    summary: 'List keys',
    description: 'Newest first, keyset-paginated; filter by client, environment and status.',
  })
  @ApiOkResponse({ type: KeyPage })
  @ApiBadRequest()
  list(@Query() query: ListKeysQueryDto, @Ctx() ctx: RequestContext): Promise<KeyPage> {
    return this.keys.list(query, ctx.actor!);
  }

  @Get('keys/:id')
  @RequireScopes('admin:keys:read')
  @ApiOperation({ summary: 'Get a key' })
  @ApiOkResponse({ type: KeyResponse })
  @ApiNotFoundResponse(NOT_FOUND)
  get(@Param('id', IdPipe) id: string, @Ctx() ctx: RequestContext): Promise<KeyResponse> {
    return this.keys.get(id, ctx.actor!);
  }

  @Patch('keys/:id')
  @RequireScopes('admin:keys:write')
  @ApiOperation({
    summary: 'Change a key',
    description: 'Name, scopes, expiry, limits, allowlist and metadata. Takes effect on every instance at once.',
  })
  @ApiOkResponse({ type: KeyResponse })
  @ApiBadRequest()
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflict('The key is revoked or expired.')
  update(@Param('id', IdPipe) id: string, @Body() dto: UpdateKeyDto, @Ctx() ctx: RequestContext): Promise<KeyResponse> {
    return this.keys.update(id, dto, ctx);
  }

  @Post('keys/:id/rotate')
  @RequireScopes('admin:keys:write')
  @ApiOperation({
    summary: 'Rotate a key',
    description:
      'Issues a successor with the same client, environment, scopes, limits and metadata; the old key keeps working until the end of its grace period, never past its own expiry. A key can be rotated once.',
  })
  @IssuedKey('The successor, with its full key (shown once).')
  @ApiBadRequest()
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflict('Already rotated, revoked or expired.')
  rotate(
    @Param('id', IdPipe) id: string,
    @Body() dto: RotateKeyDto,
    @Ctx() ctx: RequestContext,
  ): Promise<IssuedKeyResponse> {
    return this.keys.rotate(id, dto, ctx);
  }

  @Post('keys/:id/revoke')
  @HttpCode(200)
  @RequireScopes('admin:keys:write')
  @ApiOperation({
    summary: 'Revoke a key',
    description: 'Immediate on every instance. Revoking a revoked key changes nothing and answers the same.',
  })
  @ApiOkResponse({ type: KeyResponse })
  @ApiBadRequest()
  @ApiNotFoundResponse(NOT_FOUND)
  revoke(@Param('id', IdPipe) id: string, @Body() dto: RevokeKeyDto, @Ctx() ctx: RequestContext): Promise<KeyResponse> {
    return this.keys.revoke(id, dto, ctx);
  }
}
