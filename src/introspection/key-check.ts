import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { KeyRecord } from '../credentials/key-record';
import { InactiveReason, KeyVerifier, Requirements, Verdict } from '../credentials/key-verifier';
import type { HotEndpoint as Endpoint, HotPathTally } from '../metrics/hot-path-tally';
import { Metrics } from '../metrics/metrics';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { RateDecision } from '../ratelimit/sliding-window';
import { UsageRecorder } from '../usage/usage-recorder';
import { UsageLimit } from './usage-limit';

/** What the caller needs of the key; everything optional but the token. An environment other than `live` or `test` matches no key. */
export interface Needs {
  scopes: readonly string[];
  environment?: string;
  clientIp?: string;
}

export type Decision =
  | { active: true; key: KeyRecord; rate: RateDecision | null }
  | { active: false; reason: InactiveReason; key?: KeyRecord; rate?: RateDecision };

/**
 * The checks of both hot endpoints, in one place: the verifier's (format, digest,
 * cached lookup, status, expiry, grace, client, environment, scopes, allowlist), then
 * the usage limit and the rate limit. A call refused by its rate limit takes no use,
 * and a key known to be used up takes no rate-limit slot. Every decision about a
 * known key is counted for its usage report; every decision is counted in metrics.
 * A database that cannot answer throws (a 503), never a guess.
 */
@Injectable()
export class KeyCheck {
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

  /**
   * The decision, at once when no query and no shared counter is needed (a cached
   * key without a rate or usage limit, an unknown or malformed key): a promise otherwise.
   */
  checkNow(endpoint: Endpoint, token: string, needs: Needs): Decision | Promise<Decision> {
    const started = performance.now();
    const verdict = this.verifier.verifyNow(token, needs as Requirements);
    if (verdict instanceof Promise) return verdict.then((v) => this.decide(endpoint, v, started));
    return this.decide(endpoint, verdict, started);
  }

  private decide(endpoint: Endpoint, verdict: Verdict, started: number): Decision | Promise<Decision> {
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

  /** The usage and rate limits of a key the verifier found good. */
  private limits(verdict: Verdict): Decision | Promise<Decision> {
    if (!verdict.active)
      return verdict.record
        ? { active: false, reason: verdict.reason, key: verdict.record }
        : { active: false, reason: verdict.reason };
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
