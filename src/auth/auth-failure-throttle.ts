import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { TooManyFailedAttempts, Unauthenticated } from '../common/errors';
import { AppConfig } from '../config/config';
import { KeyVerifier } from '../credentials/key-verifier';
import { Metrics } from '../metrics/metrics';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { RateLimit } from '../ratelimit/sliding-window';

/** Addresses known to be over their limit, remembered locally so their flood costs no Redis call. */
const MAX_BLOCKED_ADDRESSES = 100_000;

export type AuthenticatingEndpoint = 'admin' | 'introspect' | 'authorize' | 'key_changes';

/**
 * Failed authentication, counted per client address (request.ip, which honours
 * TRUSTED_PROXIES): at most AUTH_FAILURE_LIMIT failures per AUTH_FAILURE_WINDOW_SECONDS,
 * in the rate limiter's sliding window (Redis when configured, shared by every instance;
 * memory otherwise, and when Redis does not answer). Beyond the limit a failure is
 * answered 429 with Retry-After instead of 401.
 *
 * Only failures are counted, and only after the key was checked: a key this instance holds
 * in its cache is judged as usual from any address, throttled or not. From an address
 * already known to be over its limit, a key that would need a database query is refused
 * first, without the query (see refuseFirst): its flood costs the database nothing. An
 * absent key is not a failure (it guesses nothing and costs no lookup).
 */
@Injectable()
export class AuthFailureThrottle {
  private readonly limit: RateLimit | null;
  /** Address -> when the sliding window admits its next failure (ms since the epoch). */
  private readonly blocked = new LRUCache<string, number>({ max: MAX_BLOCKED_ADDRESSES, ttlAutopurge: false });

  constructor(
    env: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly metrics: Metrics,
    private readonly verifier: KeyVerifier,
  ) {
    this.limit =
      env.AUTH_FAILURE_LIMIT > 0
        ? { limit: env.AUTH_FAILURE_LIMIT, windowSeconds: env.AUTH_FAILURE_WINDOW_SECONDS }
        : null;
  }

  /**
   * Before a key is looked up: the seconds `address` must wait when it is known to be over
   * its limit and `token` would cost a database query, else null (judge the key as usual).
   * Synchronous, and a size check when no address is blocked: every hot-path call asks.
   */
  refuseFirst(endpoint: AuthenticatingEndpoint, address: string, token: string, now = Date.now()): number | null {
    if (!this.overLimit(address, token, now)) return null;
    this.metrics.authFailures.labels(endpoint, 'throttled').inc();
    return Math.max(1, Math.ceil((this.blocked.get(address)! - now) / 1000));
  }

  /** Whether refuseFirst would refuse, without counting it. */
  overLimit(address: string, token: string, now = Date.now()): boolean {
    if (this.blocked.size === 0) return false;
    const until = this.blocked.get(address);
    return until !== undefined && until > now && this.verifier.wouldQueryUnknownKey(token);
  }

  /** Counts a failure from `address`; answers the seconds to wait when the address is over its limit, else null. */
  async failed(endpoint: AuthenticatingEndpoint, address: string, now = Date.now()): Promise<number | null> {
    if (!this.limit) return null;
    const until = this.blocked.get(address);
    let wait: number | null = null;
    if (until !== undefined && until > now) wait = until - now;
    else {
      const decision = await this.limiter.consume(`auth-failures:${address}`, this.limit);
      if (!decision.allowed) {
        wait = decision.resetMs;
        this.blocked.set(address, now + wait, { ttl: Math.max(1, Math.ceil(wait)) });
      }
    }
    this.metrics.authFailures.labels(endpoint, wait === null ? 'refused' : 'throttled').inc();
    return wait === null ? null : Math.max(1, Math.ceil(wait / 1000));
  }

  /** The error for a failed authentication: a 401, or a 429 once the address is over its limit. */
  async refusal(endpoint: AuthenticatingEndpoint, address: string): Promise<Unauthenticated | TooManyFailedAttempts> {
    const wait = await this.failed(endpoint, address);
    return wait === null ? new Unauthenticated() : new TooManyFailedAttempts(wait);
  }
}
