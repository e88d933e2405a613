import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequestContext } from '../auth/actor';
import { Ctx, RequireScopes } from '../auth/require-scopes.decorator';
import { ApiBadRequest } from '../common/api-responses';
import { LeakedKeyReportDto } from './leaked-key-report.dto';
import { LeakedKeyResponse } from './leaked-key.response';
import { LeakedKeysService } from './leaked-keys.service';

@ApiTags('keys')
@Controller('v1/keys/leaked')
export class LeakedKeysController {
  constructor(private readonly leaked: LeakedKeysService) {}

  @Post()
  @HttpCode(200)
  @RequireScopes('admin:keys:write', 'admin:leaks:report')
  @ApiOperation({
    summary: 'Report a leaked key',
    description:
      'For secret scanners and people who find a key in the wild. If the key is one of ours and still good, it is revoked at ' +
      'once with reason `leaked`, and the audit trail records who reported it and where it was found. That holds for a root key, ' +
      "for a key of the reported key's own client, and for a key holding `admin:leaks:report` (a secret scanner's, granted by " +
      "root only). Any other key's report about another client's key revokes nothing: it is recorded for root " +
      '(`key.leak_reported`) and answered exactly as for an unknown key. `key_id` and `hint` are answered only for keys the ' +
      'reporter could see anyway. A string that is not a well-formed key is simply `matched: false`, so scanners can send every candidate.',
  })
  @ApiOkResponse({
    type: LeakedKeyResponse,
    examples: {
      revoked: {
        summary: 'One of your keys: revoked now',
        value: {
          matched: true,
          revoked: true,
          key_id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11',
          hint: 'sk_live_7Gq2...x9Qa',
        },
      },
      foreign: {
        summary: "Another client's key, reported with admin:leaks:report: revoked, not named",
        value: { matched: true, revoked: true },
      },
      already: {
        summary: 'Already revoked or expired',
        value: {
          matched: true,
          revoked: false,
          key_id: '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11',
          hint: 'sk_live_7Gq2...x9Qa',
        },
      },
      unknown: {
        summary:
          "Not a key Keyhouse issued (or not a key at all), or another client's key reported without admin:leaks:report",
        value: { matched: false, revoked: false },
      },
    },
  })
  @ApiBadRequest()
  report(@Body() dto: LeakedKeyReportDto, @Ctx() ctx: RequestContext): Promise<LeakedKeyResponse> {
    return this.leaked.report(dto, ctx);
  }
}
