import { createHash } from 'node:crypto';
import { parseKey, type KeyEnvironment } from './key-format.js';
import { SseParser, type SseEvent } from './sse.js';

/** Keyhouse's reasons for `active: false` (docs/hot-path.md), in the order its checks run. */
export type InactiveReason =
  | 'malformed'
  | 'not_found'
  | 'revoked'
  | 'expired'
  | 'client_suspended'
  | 'environment_mismatch'
  | 'insufficient_scope'
  | 'ip_not_allowed'
  | 'usage_exceeded'
  | 'rate_limited';

export interface RateLimit {
  limit: number;
  remaining: number;
  /** When `remaining` next grows. */
  reset: Date;
}

export interface ActiveDecision {
  active: true;
  clientId: string;
  keyId: string;
  scopes: string[];
  environment: KeyEnvironment;
  keyName: string;
  metadata: Record<string, unknown>;
  issuedAt: Date;
  /** When the key stops being good (its expiry, or the end of a rotation's grace); absent if never. */
  expiresAt?: Date;
  /** For a key with a rate limit: this call's window. */
  rateLimit?: RateLimit;
  /** The key has a usage limit: every good call takes a use. */
  usageLimited: boolean;
  /** Answered from this verifier's own cache, without asking Keyhouse. */
  cached: boolean;
}

export interface InactiveDecision {
  active: false;
  reason: InactiveReason;
  /** For `rate_limited`: whole seconds until a retry can pass. */
  retryAfterSeconds?: number;
  rateLimit?: RateLimit;
  cached: boolean;
}

export type Decision = ActiveDecision | InactiveDecision;

export interface VerifyOptions {
  /** Scopes the key must cover (its wildcards count). */
  scopes?: readonly string[];
  environment?: KeyEnvironment;
  /** The address of whoever presented the key, for the key's IP allowlist. */
  clientIp?: string;
  /**
   * Uses this call takes: 1 (the default). Keyhouse's introspection takes exactly one use and
   * one rate-limit slot per call and has no weighted cost, so any other value is refused
   * (a RangeError) rather than counted wrong.
   */
  cost?: number;
}

export type StreamStatus = 'off' | 'connecting' | 'up' | 'down';

export interface VerifierStatus {
  /** The change stream: `up` while subscribed, when cached answers live `cacheTtlMs`; otherwise `fallbackTtlMs`. */
  stream: StreamStatus;
  /** Why the stream is not up, when it is not. */
  streamError?: string;
  /** Since when the stream has had its current status. */
  since: Date;
  cacheEntries: number;
  hits: number;
  misses: number;
  /** Calls Keyhouse could not answer (each one refused). */
  failures: number;
  lastEventId?: string;
}

export interface VerifierOptions {
  /** Keyhouse's base URL, e.g. `https://keyhouse.internal:8080`. */
  url: string;
  /** This service's own key, holding `admin:introspect`. */
  key: string;
  /** Most answers kept; the least recently used goes first. Default 10,000. */
  cacheSize?: number;
  /** How long an active answer is kept while the change stream is up. Default 10 minutes. */
  cacheTtlMs?: number;
  /** How long an inactive answer (it names no key) is kept while the stream is up. Default 5 s. */
  inactiveTtlMs?: number;
  /** How long any answer is kept while the stream is down: Keyhouse's own cache TTL. Default 5 s. */
  fallbackTtlMs?: number;
  /** A call to Keyhouse that takes longer fails (and the request is refused). Default 2 s. */
  timeoutMs?: number;
  /** Subscribe to `GET /v1/key-changes`. Default true; without it every answer lives `fallbackTtlMs`. */
  subscribe?: boolean;
  /** Wait before reconnecting the stream; default: what the stream's `retry:` says (2 s). */
  reconnectMs?: number;
  /** Told every time the stream's status changes. */
  onStatus?: (status: VerifierStatus) => void;
  /** The fetch to use; default the global one (Node.js 20+: undici, keep-alive connections). */
  fetch?: typeof fetch;
}

export interface Verifier {
  verify(token: string, options?: VerifyOptions): Promise<Decision>;
  status(): VerifierStatus;
  /** Stops the stream and forgets every answer. */
  close(): Promise<void>;
}

/** Keyhouse could not be asked (down, timed out, or answered something other than an introspection). */
export class KeyhouseUnavailableError extends Error {
  override readonly name = 'KeyhouseUnavailableError';
  constructor(
    message: string,
    /** Keyhouse's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Entry {
  decision: Decision;
  storedAt: number;
  /** Whether the stream was up, with no gap, from the call's start: then the entry may live long. */
  covered: boolean;
  /** Milliseconds since the epoch; the answer is never served from then on. */
  goodUntil: number;
}

interface IntrospectionBody {
  active: boolean;
  reason?: string;
  scope?: string;
  client_id?: string;
  sub?: string;
  iat?: number;
  exp?: number;
  environment?: string;
  key_name?: string;
  metadata?: Record<string, unknown>;
  rate_limit?: { limit: number; remaining: number; reset: number };
  usage_limited?: boolean;
}

const REASONS = new Set<string>([
  'malformed',
  'not_found',
  'revoked',
  'expired',
  'client_suspended',
  'environment_mismatch',
  'insufficient_scope',
  'ip_not_allowed',
  'usage_exceeded',
  'rate_limited',
]);

/**
 * A verifier of keys for a service that receives them: asks Keyhouse's `POST /v1/introspect`,
 * keeps the answers in a bounded cache that the change stream clears within milliseconds of a
 * change, and refuses (throws {@link KeyhouseUnavailableError}) when it can neither ask nor answer
 * from its cache. It never answers `active` on a guess.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  return new KeyVerifier(options);
}

class KeyVerifier implements Verifier {
  private readonly base: string;
  private readonly authorization: string;
  private readonly fetch: typeof fetch;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  private readonly inactiveTtlMs: number;
  private readonly fallbackTtlMs: number;
  private readonly timeoutMs: number;
  /** By a hash of the token and the question; never the token itself. */
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Decision>>();
  /**
   * Grows with every change the stream reports. An answer asked for before a change that may
   * concern it is not kept: for an active answer, a change of its key or client, or anything
   * that cleared everything (a reset, the stream going down); for an inactive one (it names no
   * key), any change.
   */
  private generation = 0;
  private clearedAt = 0;
  private readonly keyChangedAt = new Map<string, number>();
  private readonly clientChangedAt = new Map<string, number>();
  private streamStatus: StreamStatus;
  private streamError: string | undefined;
  private since = new Date();
  private lastEventId: string | undefined;
  private retryMs = 2000;
  private hits = 0;
  private misses = 0;
  private failures = 0;
  private closed = false;
  private stream: AbortController | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private streamDone: Promise<void> = Promise.resolve();

  constructor(private readonly options: VerifierOptions) {
    if (!options.url) throw new TypeError('createVerifier: url is required');
    if (!options.key) throw new TypeError('createVerifier: key is required');
    this.base = options.url.replace(/\/+$/, '');
    this.authorization = `Bearer ${options.key}`;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 600_000;
    this.inactiveTtlMs = options.inactiveTtlMs ?? 5_000;
    this.fallbackTtlMs = options.fallbackTtlMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    if (options.reconnectMs !== undefined) this.retryMs = options.reconnectMs;
    this.streamStatus = options.subscribe === false ? 'off' : 'connecting';
    if (this.streamStatus === 'connecting') this.streamDone = this.connect();
  }

  verify(token: string, options: VerifyOptions = {}): Promise<Decision> {
    if (options.cost !== undefined && options.cost !== 1) {
      return Promise.reject(
        new RangeError('cost must be 1: Keyhouse takes one use and one rate-limit slot per introspection'),
      );
    }
    if (this.closed) return Promise.reject(new KeyhouseUnavailableError('The verifier is closed.'));
    if (typeof token !== 'string' || parseKey(token) === null) {
      return Promise.resolve({ active: false, reason: 'malformed', cached: false });
    }
    const id = cacheId(token, options);
    const now = Date.now();
    const entry = this.cache.get(id);
    if (entry !== undefined) {
      if (this.servable(entry, now)) {
        this.hits++;
        // Least recently used goes first: a hit moves to the back.
        this.cache.delete(id);
        this.cache.set(id, entry);
        return Promise.resolve(entry.decision);
      }
      this.cache.delete(id);
    }
    this.misses++;
    let pending = this.inFlight.get(id);
    if (pending === undefined) {
      pending = this.ask(id, token, options).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  status(): VerifierStatus {
    return {
      stream: this.streamStatus,
      ...(this.streamError !== undefined && this.streamStatus !== 'up' ? { streamError: this.streamError } : {}),
      since: this.since,
      cacheEntries: this.cache.size,
      hits: this.hits,
      misses: this.misses,
      failures: this.failures,
      ...(this.lastEventId !== undefined ? { lastEventId: this.lastEventId } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.watchdog);
    this.stream?.abort();
    this.cache.clear();
    await this.streamDone;
  }

  private servable(entry: Entry, now: number): boolean {
    if (now >= entry.goodUntil) return false;
    const age = now - entry.storedAt;
    if (this.streamStatus === 'up' && entry.covered) {
      return age < (entry.decision.active ? this.cacheTtlMs : Math.min(this.inactiveTtlMs, this.cacheTtlMs));
    }
    return age < Math.min(this.fallbackTtlMs, entry.decision.active ? Infinity : this.inactiveTtlMs);
  }

  private async ask(id: string, token: string, options: VerifyOptions): Promise<Decision> {
    const generation = this.generation;
    const covered = this.streamStatus === 'up';
    const startedAt = Date.now();
    const body: Record<string, string> = { token };
    if (options.scopes && options.scopes.length > 0) body.scope = options.scopes.join(' ');
    if (options.environment) body.environment = options.environment;
    if (options.clientIp) body.client_ip = options.clientIp;
    let answer: IntrospectionBody;
    try {
      const response = await this.fetch(`${this.base}/v1/introspect`, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw new KeyhouseUnavailableError(
          `Keyhouse answered the introspection with ${response.status}.`,
          response.status,
        );
      }
      answer = (await response.json()) as IntrospectionBody;
      if (typeof answer !== 'object' || answer === null || typeof answer.active !== 'boolean') {
        throw new KeyhouseUnavailableError('Keyhouse answered something that is not an introspection.');
      }
    } catch (error) {
      this.failures++;
      if (error instanceof KeyhouseUnavailableError) throw error;
      throw new KeyhouseUnavailableError(`Keyhouse could not be asked: ${(error as Error).message}`);
    }
    const decision = toDecision(answer, startedAt);
    if (cacheable(decision) && this.unchangedSince(generation, decision)) this.store(id, decision, covered, startedAt);
    return decision;
  }

  private unchangedSince(generation: number, decision: Decision): boolean {
    if (!decision.active) return generation === this.generation;
    return (
      this.clearedAt <= generation &&
      (this.keyChangedAt.get(decision.keyId) ?? 0) <= generation &&
      (this.clientChangedAt.get(decision.clientId) ?? 0) <= generation
    );
  }

  /** Notes a change of one key or client; the notes are bounded (past the bound, it counts as a clear). */
  private note(map: Map<string, number>, id: string): void {
    this.generation++;
    if (map.size >= 10_000) {
      map.clear();
      this.clearedAt = this.generation;
    }
    map.set(id, this.generation);
  }

  private store(id: string, decision: Decision, covered: boolean, storedAt: number): void {
    const goodUntil = decision.active && decision.expiresAt ? decision.expiresAt.getTime() : Infinity;
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(id, { decision: { ...decision, cached: true }, storedAt, covered, goodUntil });
  }

  // The change stream.

  private async connect(): Promise<void> {
    if (this.closed) return;
    const controller = new AbortController();
    this.stream = controller;
    let reason = 'the stream ended';
    try {
      const headers: Record<string, string> = { authorization: this.authorization, accept: 'text/event-stream' };
      const resumed = this.lastEventId !== undefined;
      if (resumed) headers['last-event-id'] = this.lastEventId!;
      const response = await this.fetch(`${this.base}/v1/key-changes`, {
        headers,
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`GET /v1/key-changes answered ${response.status}`);
      }
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      this.armWatchdog(controller, 30_000);
      for (;;) {
        const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (done) break;
        for (const event of parser.push(decoder.decode(value, { stream: true })))
          this.onEvent(event, controller, resumed);
        if (parser.retry !== undefined && this.options.reconnectMs === undefined) this.retryMs = parser.retry;
        this.armWatchdog(controller);
      }
    } catch (error) {
      if (!this.closed) reason = (error as Error).message;
    } finally {
      clearTimeout(this.watchdog);
      controller.abort();
    }
    if (this.closed) return;
    this.setStatus('down', reason);
    this.reconnectTimer = setTimeout(() => {
      this.setStatus('connecting', reason);
      this.streamDone = this.connect();
    }, this.retryMs);
    // The service's own server keeps the process alive; a verifier waiting to reconnect does not.
    this.reconnectTimer.unref();
  }

  private heartbeatMs = 15_000;

  /** No byte for two heartbeats and a second: the connection is dead, however open it looks. */
  private armWatchdog(controller: AbortController, ms = this.heartbeatMs * 2 + 1000): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => controller.abort(new Error('no heartbeat from the stream')), ms);
    this.watchdog.unref();
  }

  private onEvent(event: SseEvent, controller: AbortController, resumed: boolean): void {
    if (event.id !== undefined && event.id !== '') this.lastEventId = event.id;
    switch (event.event) {
      case 'ready': {
        const data = parseJson(event.data) as { heartbeat_seconds?: number } | undefined;
        if (data && typeof data.heartbeat_seconds === 'number' && data.heartbeat_seconds > 0) {
          this.heartbeatMs = data.heartbeat_seconds * 1000;
        }
        // A first subscription, or a reconnect that could not name where it left off: what
        // happened meanwhile is unknown, so nothing cached before stays.
        if (!resumed) this.clear();
        this.armWatchdog(controller);
        this.setStatus('up');
        return;
      }
      case 'key': {
        const data = parseJson(event.data) as { key_id?: string; change?: string } | undefined;
        if (!data || typeof data.key_id !== 'string') return this.clear();
        this.note(this.keyChangedAt, data.key_id);
        this.drop((entry) => entry.decision.active && entry.decision.keyId === data.key_id);
        // A revoked key stays revoked; any other change may make a refused answer good.
        if (data.change !== 'revoked') this.drop((entry) => !entry.decision.active);
        return;
      }
      case 'client': {
        const data = parseJson(event.data) as { client_id?: string } | undefined;
        if (!data || typeof data.client_id !== 'string') return this.clear();
        this.note(this.clientChangedAt, data.client_id);
        this.drop((entry) => !entry.decision.active || entry.decision.clientId === data.client_id);
        return;
      }
      case 'reset':
        return this.clear();
      case 'message':
        if (event.data === '') return;
        return this.clear();
      default:
        // An event this version does not know might change any answer.
        return this.clear();
    }
  }

  private drop(match: (entry: Entry) => boolean): void {
    for (const [id, entry] of this.cache) if (match(entry)) this.cache.delete(id);
  }

  private clear(): void {
    this.generation++;
    this.clearedAt = this.generation;
    this.keyChangedAt.clear();
    this.clientChangedAt.clear();
    this.cache.clear();
  }

  private setStatus(status: StreamStatus, error?: string): void {
    if (status === this.streamStatus) return;
    // While the stream is down, changes may be missed: calls under way are not kept.
    if (status !== 'up') this.clearedAt = ++this.generation;
    this.streamStatus = status;
    this.streamError = error;
    this.since = new Date();
    this.options.onStatus?.(this.status());
  }
}

/** Kept only when no count Keyhouse keeps is skipped: keys with a rate or usage limit are asked every time. */
function cacheable(decision: Decision): boolean {
  if (decision.active) return decision.rateLimit === undefined && !decision.usageLimited;
  return decision.reason !== 'rate_limited' && decision.reason !== 'usage_exceeded';
}

function toDecision(body: IntrospectionBody, now: number): Decision {
  const rateLimit = body.rate_limit
    ? {
        limit: body.rate_limit.limit,
        remaining: body.rate_limit.remaining,
        reset: new Date(body.rate_limit.reset * 1000),
      }
    : undefined;
  if (!body.active) {
    const reason = (REASONS.has(body.reason ?? '') ? body.reason : 'not_found') as InactiveReason;
    const decision: InactiveDecision = { active: false, reason, cached: false };
    if (rateLimit) decision.rateLimit = rateLimit;
    if (reason === 'rate_limited') {
      decision.retryAfterSeconds = rateLimit ? Math.max(1, Math.ceil((rateLimit.reset.getTime() - now) / 1000)) : 1;
    }
    return decision;
  }
  const decision: ActiveDecision = {
    active: true,
    clientId: String(body.client_id),
    keyId: String(body.sub),
    scopes: body.scope ? body.scope.split(' ').filter((s) => s.length > 0) : [],
    environment: body.environment as KeyEnvironment,
    keyName: String(body.key_name ?? ''),
    metadata: body.metadata ?? {},
    issuedAt: new Date((body.iat ?? 0) * 1000),
    usageLimited: body.usage_limited === true,
    cached: false,
  };
  if (body.exp !== undefined) decision.expiresAt = new Date(body.exp * 1000);
  if (rateLimit) decision.rateLimit = rateLimit;
  return decision;
}

/** The cache's key: a SHA-256 of the token and what was asked, so no token is ever a key in anything. */
function cacheId(token: string, options: VerifyOptions): string {
  const scopes = options.scopes && options.scopes.length > 0 ? [...options.scopes].sort().join(' ') : '';
  return createHash('sha256')
    .update(token)
    .update('\0')
    .update(scopes)
    .update('\0')
    .update(options.environment ?? '')
    .update('\0')
    .update(options.clientIp ?? '')
    .digest('base64url');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
