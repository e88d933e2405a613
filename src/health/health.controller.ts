import { Controller, Get, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { KeyChangeListener } from '../credentials/key-change-listener';
import { RateLimiter } from '../ratelimit/rate-limiter';
import { UsageRecorder } from '../usage/usage-recorder';
import { onManagement, type ServedOn } from '../common/listeners';
import { LivenessResponse, ReadinessCheck, ReadinessChecks, ReadinessResponse } from './readiness.response';

const DATABASE_TIMEOUT_MS = 2000;

/** Answered on both listeners (each route's `servedOn`): a load balancer asks the public one, an orchestrator either. */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly usage: UsageRecorder,
    private readonly rateLimiter: RateLimiter,
    private readonly listener: KeyChangeListener,
  ) {}

  @Get()
  @RouteConfig({ servedOn: 'both' satisfies ServedOn })
  @HealthCheck()
  @ApiOperation({
    summary: 'Database and usage writes (the original combined check)',
    description:
      '200 when the service is up, its database answers and usage counts are being written; 503 otherwise (`usage` is down once the oldest unwritten count is older than two flush intervals and two statement timeouts). ' +
      'Kept as it was for existing load balancers: prefer `/health/live` and `/health/ready`, which also report Redis and the change listener.',
  })
  async check(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.db.pingCheck('database', { timeout: DATABASE_TIMEOUT_MS }),
        () => this.usageWrites(),
      ]);
    } catch (err) {
      // Terminus's own answer, as documented, with its 503: not a problem document (whose status it would clobber).
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }

  @Get('live')
  @RouteConfig({ servedOn: 'both' satisfies ServedOn })
  @ApiOperation({
    summary: 'Liveness',
    description:
      'Always 200 while the process answers HTTP: no dependency is asked, so a database or Redis outage never gets the instance restarted.',
  })
  @ApiOkResponse({ type: LivenessResponse })
  live(): LivenessResponse {
    return { status: 'ok' };
  }

  @Get('ready')
  @RouteConfig({ servedOn: 'both' satisfies ServedOn })
  @ApiOperation({
    summary: 'Readiness',
    description:
      'Whether this instance should take traffic. 503 (`unavailable`) while the database does not answer or usage counts are not written; 200 otherwise. ' +
      'Redis and the change listener are reported too: while either is down the answer is still 200, with `status: degraded` and the check under `down`.',
  })
  @ApiOkResponse({
    type: ReadinessResponse,
    description: 'Ready: `ok`, or `degraded` with the optional checks that are down.',
  })
  @ApiServiceUnavailableResponse({ type: ReadinessResponse, description: 'Not ready: a required check is down.' })
  async ready(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ReadinessResponse> {
    // The driver's error names hosts and ports of the private network: told on the management listener only.
    const [database, redis] = await Promise.all([this.database(onManagement(request.raw)), this.redis()]);
    const checks: ReadinessChecks = {
      database,
      usage: this.usageCheck(),
      redis,
      change_listener: this.changeListener(),
    };
    const entries = Object.entries(checks) as Array<[keyof ReadinessChecks, ReadinessCheck]>;
    const down = entries.filter(([, check]) => check.status === 'down').map(([name]) => name);
    const unavailable = entries.some(([, check]) => check.required && check.status === 'down');
    if (unavailable) void reply.status(503);
    return { status: unavailable ? 'unavailable' : down.length > 0 ? 'degraded' : 'ok', down, checks };
  }

  private async database(withMessage: boolean): Promise<ReadinessCheck> {
    const result = await this.db.pingCheck('database', { timeout: DATABASE_TIMEOUT_MS });
    const { status, message } = result.database as { status: string; message?: unknown };
    if (status === 'up') return { status: 'up', required: true };
    return {
      status: 'down',
      required: true,
      impact: 'admin calls answer 503; introspection answers cached keys only',
      ...(withMessage && typeof message === 'string' ? { message: message.slice(0, 2000) } : {}),
    };
  }

  private usageCheck(): ReadinessCheck {
    const failing = this.usage.failingFrom;
    return {
      status: this.usage.writing() ? 'up' : 'down',
      required: true,
      lag_seconds: Math.round(this.usage.lagSeconds()),
      failing_since: failing === null ? null : new Date(failing).toISOString(),
      ...(this.usage.writing() ? {} : { impact: 'usage counts are kept in memory until they can be written' }),
    };
  }

  private async redis(): Promise<ReadinessCheck> {
    const up = await this.rateLimiter.redisAnswers();
    if (up === null) return { status: 'disabled', required: false };
    if (up) return { status: 'up', required: false };
    return { status: 'down', required: false, impact: 'rate limits are counted per instance until Redis answers' };
  }

  private changeListener(): ReadinessCheck {
    if (this.listener.connected) return { status: 'up', required: false };
    return {
      status: 'down',
      required: false,
      impact: "changes reach this instance's key cache only as entries expire (CACHE_TTL_MS) until it listens again",
    };
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
