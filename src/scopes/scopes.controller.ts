import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest, ApiConflict } from '../common/api-responses';
import { PageQueryDto } from '../common/pagination.dto';
import { ProblemResponse } from '../common/problem.response';
import { CreateScopeDto } from './dto/create-scope.dto';
import { ScopePage, ScopeResponse } from './dto/scope.response';
import { ScopesService } from './scopes.service';

@ApiTags('scopes')
@Controller('v1/scopes')
export class ScopesController {
  constructor(private readonly scopes: ScopesService) {}

  @Post()
  @RequireScopes('admin:scopes:write')
  @ApiOperation({
    summary: 'Add a scope to the catalog',
    description: 'Keys may carry only catalogued scopes. Root keys only.',
  })
  @ApiCreatedResponse({ type: ScopeResponse })
  @ApiBadRequest()
  @ApiConflict('The scope is already in the catalog.')
  create(@Body() dto: CreateScopeDto, @Ctx() ctx: RequestContext): Promise<ScopeResponse> {
    return this.scopes.create(dto, ctx);
  }

  @Get()
  @RequireScopes('admin:scopes:read')
  @ApiOperation({
    summary: 'List the scope catalog',
    description: 'In name order, keyset-paginated; includes the built-in admin: scopes.',
  })
  @ApiOkResponse({ type: ScopePage })
  @ApiBadRequest()
  list(@Query() query: PageQueryDto): Promise<ScopePage> {
    return this.scopes.list(query);
  }

  @Delete(':name')
  @HttpCode(204)
  @RequireScopes('admin:scopes:write')
  @ApiOperation({
    summary: 'Remove a scope from the catalog',
    description: 'Refused (409) while any key holds it, and for built-in admin: scopes.',
  })
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such scope.' })
  @ApiConflict('Keys still hold the scope, or it is built in.')
  remove(@Param('name') name: string, @Ctx() ctx: RequestContext): Promise<void> {
    return this.scopes.remove(name, ctx);
  }
}
