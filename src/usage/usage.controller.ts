import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest } from '../common/api-responses';
import { IdPipe } from '../common/id.pipe';
import { ProblemResponse } from '../common/problem.response';
import { UsageQueryDto } from './dto/usage-query.dto';
import { ClientUsageResponse, KeyUsageResponse } from './dto/usage.response';
import { UsageService } from './usage.service';

const RANGE =
  'Counts per UTC hour or day and per outcome (`valid` or the introspection reason code), with totals. `from` and `to` are ' +
  'RFC 3339; the range is widened to whole buckets and may span at most 31 days (hour) or 366 days (day); default: the last ' +
  '24 hours (hour) or 30 days (day). Counts reach the database in batches, a few seconds after the calls.';

@ApiTags('usage')
@Controller('v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get('keys/:id/usage')
  @RequireScopes('admin:keys:read')
  @ApiOperation({ summary: "A key's usage", description: RANGE })
  @ApiOkResponse({ type: KeyUsageResponse })
  @ApiBadRequest()
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such key, or not yours.' })
  ofKey(
    @Param('id', IdPipe) id: string,
    @Query() query: UsageQueryDto,
    @Ctx() ctx: RequestContext,
  ): Promise<KeyUsageResponse> {
    return this.usage.ofKey(id, query, ctx.actor!);
  }

  @Get('clients/:id/usage')
  @RequireScopes('admin:keys:read')
  @ApiOperation({
    summary: "A client's usage",
    description: `Summed over the client's keys, with each key's totals. ${RANGE}`,
  })
  @ApiOkResponse({ type: ClientUsageResponse })
  @ApiBadRequest()
  @ApiNotFoundResponse({ type: ProblemResponse, description: 'No such client, or not yours.' })
  ofClient(
    @Param('id', IdPipe) id: string,
    @Query() query: UsageQueryDto,
    @Ctx() ctx: RequestContext,
  ): Promise<ClientUsageResponse> {
    return this.usage.ofClient(id, query, ctx.actor!);
  }
}
