import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest } from '../common/api-responses';
import { AuditService } from './audit.service';
import { AuditChainVerifier } from './audit-verifier';
import { AuditEventPage } from './dto/audit-event.response';
import { ChainVerificationResponse } from './dto/chain-verification.response';
import { ListAuditEventsQueryDto } from './dto/list-audit-events.dto';
import { VerifyChainQueryDto } from './dto/verify-chain.dto';

const HEAD_EXAMPLE = '3b9f6c0d2e8a4f1b7c5d9e0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c';

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly verifier: AuditChainVerifier,
  ) {}

  @Get()
  @RequireScopes('admin:audit:read')
  @ApiOperation({
    summary: 'List audit events',
    description: 'Every state change, newest first, keyset-paginated; filter by action, actor, target and time.',
  })
  @ApiOkResponse({ type: AuditEventPage })
  @ApiBadRequest()
  list(@Query() query: ListAuditEventsQueryDto, @Ctx() ctx: RequestContext): Promise<AuditEventPage> {
    return this.audit.list(query, ctx.actor!);
  }

  @Get('verify')
  @RequireScopes('admin:audit:read')
  @ApiOperation({
    summary: 'Verify the audit chain',
    description:
      'Walks every event from the first, recomputing each hash and its link to the one before, and answers `ok` with the head, ' +
      'or the first event where the chain breaks. Root keys only (the chain spans every client). Pass an anchor recorded from an ' +
      'earlier answer (`anchor_id` = `head_id`, `anchor_hash` = `head`) to also catch newest events cut off the end.',
  })
  @ApiOkResponse({
    type: ChainVerificationResponse,
    description: 'Always 200: `ok` says whether the chain is intact.',
    examples: {
      intact: { summary: 'Intact', value: { ok: true, checked: 1042, head: HEAD_EXAMPLE, head_id: '1042' } },
      edited: {
        summary: 'Event 517 was edited',
        value: { ok: false, checked: 516, broken_at: '517', problem: 'hash_mismatch' },
      },
      removed: {
        summary: 'An event before 517 was removed or moved',
        value: { ok: false, checked: 515, broken_at: '517', problem: 'prev_hash_mismatch' },
      },
    },
  })
  @ApiBadRequest()
  verify(@Query() query: VerifyChainQueryDto, @Ctx() ctx: RequestContext): Promise<ChainVerificationResponse> {
    return this.verifier.verifyFor(ctx.actor!, query);
  }
}
