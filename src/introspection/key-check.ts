import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import type { Environment } from '../credentials/key-format';
import { InactiveReason, KeyVerifier, VerifiedKey } from '../credentials/key-verifier';
import { Metrics } from '../metrics/metrics';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { RateDecision } from '../ratelimit/sliding-window';
import { UsageRecorder } from '../usage/usage-recorder';
import { UsageLimit } from './usage-limit';

export type Endpoint = 'introspect' | 'authorize';

/** What the caller needs of the key; everything optional but the token. */
export interface Needs {
  scopes: readonly string[];
  environment?: string;
  clientIp?: string;
}

export type Decision =
  | { active: true; key: VerifiedKey; rate: RateDecision | null }
  | { active: false; reason: InactiveReason; key?: VerifiedKey; rate?: RateDecision };

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
  private readonly outcomes = new Map<string, Counter.Internal>();
  private readonly latency: Record<Endpoint, Histogram.Internal<'endpoint'>>;

  constructor(
    private readonly verifier: KeyVerifier,
    private readonly rateLimiter: RateLimiter,
    private readonly usageLimit: UsageLimit,
    private readonly usage: UsageRecorder,
    private readonly metrics: Metrics,
  ) {
    this.latency = {
      introspect: metrics.hotPathLatency.labels('introspect'),
      authorize: metrics.hotPathLatency.labels('authorize'),
    };
  }

  async check(endpoint: Endpoint, token: string, needs: Needs): Promise<Decision> {
    const started = performance.now();
    const decision = await this.decide(token, needs);
    const outcome = decision.active ? 'valid' : decision.reason;
    if (decision.key) this.usage.record(decision.key.keyId, outcome);
    this.counter(endpoint, outcome).inc();
    this.latency[endpoint].observe((performance.now() - started) / 1000);
    return decision;
  }

  private async decide(token: string, needs: Needs): Promise<Decision> {
    const verdict = await this.verifier.verify(token, {
      scopes: needs.scopes,
      environment: needs.environment as Environment | undefined,
      clientIp: needs.clientIp,
    });
    if (!verdict.active) return verdict.record ? { active: false, reason: verdict.reason, key: verdict.record } : { active: false, reason: verdict.reason };
    const key = verdict.record;
    if (key.hasUsageLimit && this.usageLimit.knownExhausted(key)) return { active: false, reason: 'usage_exceeded', key };
    let rate: RateDecision | null = null;
    if (key.rateLimit) {
      rate = await this.rateLimiter.consume(key.keyId, key.rateLimit);
      if (!rate.allowed) return { active: false, reason: 'rate_limited', key, rate };
    }
    if (key.hasUsageLimit && !(await this.usageLimit.take(key))) return { active: false, reason: 'usage_exceeded', key };
    return { active: true, key, rate };
  }

  private counter(endpoint: Endpoint, outcome: string): Counter.Internal {
    const id = `${endpoint}:${outcome}`;
    let child = this.outcomes.get(id);
    if (!child) {
      child = this.metrics.introspections.labels(endpoint, outcome);
      this.outcomes.set(id, child);
    }
    return child;
  }
}
