import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { InactiveReason, Requirements } from '../credentials/key-checks';
import type { KeyRecord } from '../credentials/key-record';
import { KeyVerifier, type Verdict } from '../credentials/key-verifier';
import type { HotEndpoint as Endpoint, HotPathTally } from '../metrics/hot-path-tally';
import { Metrics } from '../metrics/metrics';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { RateDecision } from '../ratelimit/sliding-window';
import { UsageRecorder } from '../usage/usage-recorder';
import { UsageLimit } from './usage-limit';

/** What the hot path decides about a key: good (with its rate limit, if it has one), or why not. */
export type Decision =
  | { active: true; key: KeyRecord; rate: RateDecision | null }
  | { active: false; reason: InactiveReason; key?: KeyRecord; rate?: RateDecision };

/**
 * The hot path's one chain of checks, for introspection and forward auth alike:
 *
 *   1. format and checksum, and the published example keys   malformed
 *   2. digest, then the cache or one indexed query            not_found
 *   3. failedCheck (credentials/key-checks.ts), in order      revoked, expired, client_suspended,
 *                                                             environment_mismatch, insufficient_scope,
 *                                                             ip_not_allowed
 *   4. a usage limit known to be spent                        usage_exceeded
 *   5. the rate limit (a shared window with Redis)            rate_limited
 *   6. one use taken from the usage limit, in the database    usage_exceeded
 *   7. counted: the key's usage report and the metrics
 *
 * Steps 1 to 3 are the KeyVerifier's, which the admin guard runs too. A call refused by its
 * rate limit takes no use, and a key known to be used up takes no rate-limit slot. A
 * database that cannot answer throws (a 503), never a guess. The decision comes at once
 * when no query and no shared counter is needed (a cached key without a rate or usage
 * limit, an unknown or malformed key), a promise otherwise: most calls make none.
 */
@Injectable()
export class KeyPipeline {
  private readonly tallies: Readonly<Record<Endpoint, HotPathTally>>;

  constructor(
    private readonly verifier: KeyVerifier,
    private readonly rateLimiter: RateLimiter,
    private readonly usageLimit: UsageLimit,
    private readonly usage: UsageRecorder,
    metrics: Metrics,
  ) {
    this.tallies = metrics.hotPath;
  }

  decide(endpoint: Endpoint, token: string, required: Requirements): Decision | Promise<Decision> {
    const started = performance.now();
    const verdict = this.verifier.verifyNow(token, required);
    if (verdict instanceof Promise) return verdict.then((v) => this.limited(endpoint, v, started));
    return this.limited(endpoint, verdict, started);
  }

  private limited(endpoint: Endpoint, verdict: Verdict, started: number): Decision | Promise<Decision> {
    const decision = this.limits(verdict);
    if (decision instanceof Promise) return decision.then((d) => this.counted(endpoint, d, started));
    return this.counted(endpoint, decision, started);
  }

  private counted(endpoint: Endpoint, decision: Decision, started: number): Decision {
    const outcome = decision.active ? 'valid' : decision.reason;
    if (decision.key) this.usage.record(decision.key.keyId, outcome);
    this.tallies[endpoint].record(outcome, (performance.now() - started) / 1000);
    return decision;
  }

  /** Steps 4 to 6, for a key steps 1 to 3 found good. */
  private limits(verdict: Verdict): Decision | Promise<Decision> {
    if (!verdict.active) {
      return verdict.record
        ? { active: false, reason: verdict.reason, key: verdict.record }
        : { active: false, reason: verdict.reason };
    }
    const key = verdict.record;
    if (key.hasUsageLimit && this.usageLimit.knownExhausted(key))
      return { active: false, reason: 'usage_exceeded', key };
    if (!key.rateLimit && !key.hasUsageLimit) return { active: true, key, rate: null };
    return this.sharedLimits(key);
  }

  private async sharedLimits(key: KeyRecord): Promise<Decision> {
    let rate: RateDecision | null = null;
    if (key.rateLimit) {
      rate = await this.rateLimiter.consume(key.keyId, key.rateLimit);
      if (!rate.allowed) return { active: false, reason: 'rate_limited', key, rate };
    }
    if (key.hasUsageLimit && !(await this.usageLimit.take(key)))
      return { active: false, reason: 'usage_exceeded', key };
    return { active: true, key, rate };
  }
}
