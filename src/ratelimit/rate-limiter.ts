import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { RedisWindows } from './redis-windows';
import { MemoryWindows, type RateDecision, type RateLimit } from './sliding-window';

/** How long start-up waits for Redis before deciding locally (a later connection is picked up by itself). */
const CONNECT_WAIT_MS = 2000;

/**
 * Per-key rate limits. With REDIS_URL, counted in Redis and shared by every instance;
 * without it, in this process. When Redis does not answer (down, or slower than
 * REDIS_COMMAND_TIMEOUT_MS), each decision is made by a local limiter instead, so keys
 * are still checked and still limited (per instance); the episode is logged once when
 * it starts and once when it ends, and every local decision is counted in
 * `keyhouse_rate_limiter_fallbacks_total`.
 */
@Injectable()
export class RateLimiter implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimiter');
  private readonly local = new MemoryWindows();
  private readonly redis: Redis | null;
  private readonly shared: RedisWindows | null;
  private fallingBack = false;

  constructor(
    env: AppConfig,
    private readonly metrics: Metrics,
  ) {
    this.redis = env.REDIS_URL
      ? new Redis(env.REDIS_URL, {
          lazyConnect: true,
          // Fail at once while disconnected rather than queue: the hot path cannot wait.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: env.REDIS_COMMAND_TIMEOUT_MS,
          connectTimeout: 2000,
          retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
          connectionName: 'keyhouse-ratelimit',
        })
      : null;
    // Errors surface through the commands that fail; without a listener ioredis prints each reconnection attempt.
    this.redis?.on('error', () => undefined);
    this.shared = this.redis ? new RedisWindows(this.redis) : null;
    metrics.observeRedis(() => this.redisAnswers());
  }

  /**
   * Whether Redis answers a PING within REDIS_COMMAND_TIMEOUT_MS: what readiness and
   * `keyhouse_redis_up` report. Null without REDIS_URL.
   */
  async redisAnswers(): Promise<boolean | null> {
    if (!this.redis) return null;
    if (this.redis.status !== 'ready') return false;
    return this.redis.ping().then(
      () => true,
      () => false,
    );
  }

  async onModuleInit(): Promise<void> {
    const redis = this.redis;
    if (!redis) return;
    const connected = redis.connect().then(
      () => true,
      () => false,
    );
    const timeout = new Promise<false>((resolve) => setTimeout(resolve, CONNECT_WAIT_MS, false).unref());
    if (!(await Promise.race([connected, timeout]))) this.startFallback(new Error('not reachable at start-up'));
  }

  onApplicationShutdown(): void {
    if (!this.redis) return;
    this.redis.disconnect(false);
  }

  async consume(id: string, limit: RateLimit): Promise<RateDecision> {
    if (!this.shared) return this.local.consume(id, limit);
    try {
      const decision = await this.shared.consume(id, limit);
      if (this.fallingBack) this.endFallback();
      return decision;
    } catch (err) {
      this.startFallback(err as Error);
      this.metrics.rateLimiterFallbacks.inc();
      return this.local.consume(id, limit);
    }
  }

  private startFallback(err: Error): void {
    if (this.fallingBack) return;
    this.fallingBack = true;
    this.logger.warn(`Redis unreachable (${err.message}): rate limits are counted per instance until it answers again`);
  }

  private endFallback(): void {
    this.fallingBack = false;
    // The local counts were per instance; Redis's are shared again from here.
    this.local.clear();
    this.logger.log('Redis answers again: rate limits are shared again');
  }
}
