import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { UsageRecorder } from '../usage/usage-recorder';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly usage: UsageRecorder,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness and readiness',
    description:
      '200 when the service is up, its database answers and usage counts are being written; 503 otherwise (`usage` is down once the oldest unwritten count is older than two flush intervals and two statement timeouts).',
  })
  async check(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.db.pingCheck('database', { timeout: 2000 }),
        () => this.usageWrites(),
      ]);
    } catch (err) {
      // Terminus's own answer, as documented, with its 503: not a problem document (whose status it would clobber).
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }

  /** A database that answers a ping can still fail every write: the age of the oldest unwritten count tells. */
  private usageWrites(): HealthIndicatorResult {
    const session = this.indicators.check('usage');
    const failing = this.usage.failingFrom;
    const data = {
      lag_seconds: Math.round(this.usage.lagSeconds()),
      failing_since: failing === null ? null : new Date(failing).toISOString(),
    };
    return this.usage.writing() ? session.up(data) : session.down(data);
  }
}
