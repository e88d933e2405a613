import type { ServerResponse } from 'node:http';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { presentedKey } from '../auth/actor';
import { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { DeniedAttempts } from '../audit/denied-attempts';
import { DomainError, Forbidden, TooManyFailedAttempts, Unauthenticated } from '../common/errors';
import { ShuttingDown } from '../common/shutting-down';
import { AppConfig } from '../config/config';
import { KeyChangeFeed, resetFrame } from '../credentials/key-change-feed';
import type { KeyRecord } from '../credentials/key-record';
import { KeyVerifier, type Verdict } from '../credentials/key-verifier';
import { coversAll } from '../credentials/scope-match';
import { Metrics } from '../metrics/metrics';
import type { Exchange } from './exchange';
import { INTROSPECT_SCOPE } from './introspect';

export const KEY_CHANGES_PATH = '/v1/key-changes';
const REQUIRED = [INTROSPECT_SCOPE];
/** How long an EventSource waits before reconnecting, sent as the stream's first line. */
const RETRY_MS = 2000;
const KEEP_ALIVE = ': keep-alive\n\n';
/** How long shutdown lets a subscriber read the end of its stream. */
const END_LINGER_MS = 1000;

/** Answered when this instance already serves as many change streams as it may. */
export class TooManySubscribers extends DomainError {
  readonly code = 'service-unavailable' as const;
  constructor(max: number) {
    super(`This instance already serves ${max} change streams; try again shortly, or another instance.`);
  }
}

/**
 * One open stream. Frames go to its socket while the socket takes them; once it does
 * not (write returned false), they wait in `queue` (the feed's own strings, shared by
 * every subscriber) until it drains.
 */
interface Subscriber {
  res: ServerResponse;
  open: boolean;
  unsubscribe: () => void;
  queue: string[];
  queuedBytes: number;
  /** What the queue may hold: the bound, plus the missed events it started with. */
  allowance: number;
  waiting: boolean;
  /** Whether the socket drained since the last heartbeat, while waiting. */
  drained: boolean;
}

/**
 * GET /v1/key-changes: the change stream, Server-Sent Events from KeyChangeFeed, for
 * callers holding `admin:introspect` (who may introspect any key, so see every change).
 * The caller's key is checked as introspection checks it (401, counted by the failure
 * throttle; 403 recorded as a denied attempt). Then, on node:http itself:
 *
 *   retry: 2000
 *   event: ready        {"stream": <epoch>, "heartbeat_seconds": N}, with the head's id when no Last-Event-ID was sent
 *   the missed events   when Last-Event-ID (or ?last_event_id=) names a position the buffer holds,
 *   or event: reset     when it names one it cannot fill (another epoch, too old, never reached)
 *   then every change as it is announced, and `: keep-alive` every N seconds.
 *
 * A subscriber that does not read is cut off (it reconnects with Last-Event-ID): once its
 * socket is full, the changes waiting for it may reach KEY_CHANGES_MAX_PENDING_BYTES
 * (beyond the missed events it reconnected to), and the socket must drain within a
 * heartbeat interval. One beyond KEY_CHANGES_MAX_SUBSCRIBERS is answered 503.
 * Shutdown ends every stream.
 */
@Injectable()
export class KeyChangeStream implements OnModuleDestroy {
  private readonly subscribers = new Set<Subscriber>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly maxPending: number;
  private readonly maxSubscribers: number;
  private readonly heartbeatSeconds: number;
  /** Subscribers cut off for not reading, since start. */
  cutOff = 0;

  constructor(
    private readonly feed: KeyChangeFeed,
    private readonly verifier: KeyVerifier,
    private readonly failures: AuthFailureThrottle,
    private readonly denied: DeniedAttempts,
    private readonly metrics: Metrics,
    config: AppConfig,
  ) {
    this.maxPending = config.KEY_CHANGES_MAX_PENDING_BYTES;
    this.maxSubscribers = config.KEY_CHANGES_MAX_SUBSCRIBERS;
    this.heartbeatSeconds = config.KEY_CHANGES_HEARTBEAT_SECONDS;
  }

  get open(): number {
    return this.subscribers.size;
  }

  answer(call: Exchange): void {
    if (this.closing) return call.problem(new ShuttingDown());
    try {
      const token = presentedKey(call.req.headers);
      if (!token) return call.problem(new Unauthenticated());
      const wait = this.failures.refuseFirst('key_changes', call.ip, token);
      if (wait !== null) return call.problem(new TooManyFailedAttempts(wait));
      const caller = this.verifier.verifyNow(token, { clientIp: call.ip });
      if (caller instanceof Promise) {
        caller.then((verdict) => this.admitted(call, verdict)).catch((err: unknown) => call.problem(err));
      } else this.admitted(call, caller);
    } catch (err) {
      call.problem(err);
    }
  }

  /** Ends every stream and refuses new ones: shutdown does not wait for subscribers to leave. */
  onModuleDestroy(): void {
    this.closing = true;
    this.stopHeartbeat();
    for (const subscriber of [...this.subscribers]) this.end(subscriber);
  }

  private admitted(call: Exchange, caller: Verdict): void {
    if (!caller.active) {
      this.failures.refusal('key_changes', call.ip).then(
        (refusal) => call.problem(refusal),
        (err: unknown) => call.problem(err),
      );
      return;
    }
    if (!coversAll(caller.record.scopes, REQUIRED)) return this.forbidden(call, caller.record);
    if (this.closing) return call.problem(new ShuttingDown());
    if (this.subscribers.size >= this.maxSubscribers) return call.problem(new TooManySubscribers(this.maxSubscribers));
    if (call.req.destroyed) return call.abandon();
    this.start(call);
  }

  private start(call: Exchange): void {
    const lastEventId = lastEventIdOf(call);
    const res = call.openStream({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    // Not every socket is a TCP one (an in-process request has none to tune).
    res.socket?.setNoDelay?.(true);
    const ready = JSON.stringify({ stream: this.feed.epoch, heartbeat_seconds: this.heartbeatSeconds });
    let head = `retry: ${RETRY_MS}\n\n`;
    let missed: string[] = [];
    if (lastEventId === null) {
      head += `id: ${this.feed.headId}\nevent: ready\ndata: ${ready}\n\n`;
    } else {
      head += `event: ready\ndata: ${ready}\n\n`;
      const since = this.feed.since(lastEventId);
      if (since === null) head += resetFrame(this.feed.headId, resetReason(lastEventId, this.feed.epoch));
      else missed = since;
    }
    const subscriber: Subscriber = {
      res,
      open: true,
      unsubscribe: () => undefined,
      queue: [],
      queuedBytes: 0,
      allowance: this.maxPending + missed.reduce((sum, frame) => sum + frame.length, 0),
      waiting: false,
      drained: true,
    };
    this.subscribers.add(subscriber);
    this.metrics.keyChangeStreams.set(this.subscribers.size);
    subscriber.unsubscribe = this.feed.subscribe((frame) => this.send(subscriber, frame));
    res.on('close', () => this.drop(subscriber));
    res.on('drain', () => this.flush(subscriber));
    this.startHeartbeat();
    this.send(subscriber, head);
    for (const frame of missed) this.send(subscriber, frame);
  }

  /**
   * Writes the frame, or queues it while the socket is full; cuts the subscriber off
   * when the queue would pass what it may hold.
   */
  private send(subscriber: Subscriber, frame: string): void {
    if (!subscriber.open) return;
    if (!subscriber.waiting) {
      if (!subscriber.res.write(frame)) subscriber.waiting = true;
      return;
    }
    if (subscriber.queuedBytes + frame.length > subscriber.allowance) return this.cut(subscriber);
    subscriber.queue.push(frame);
    subscriber.queuedBytes += frame.length;
  }

  /** The socket drained: what waited goes out, until it is full again. */
  private flush(subscriber: Subscriber): void {
    if (!subscriber.open) return;
    subscriber.waiting = false;
    subscriber.drained = true;
    const { queue } = subscriber;
    let sent = 0;
    while (sent < queue.length && !subscriber.waiting) {
      const frame = queue[sent++];
      subscriber.queuedBytes -= frame.length;
      if (!subscriber.res.write(frame)) subscriber.waiting = true;
    }
    subscriber.queue = sent === queue.length ? [] : queue.slice(sent);
  }

  /** At a heartbeat: a keep-alive when the socket takes it; a socket that has not drained for a whole interval is given up. */
  private beat(subscriber: Subscriber): void {
    if (!subscriber.waiting) return this.send(subscriber, KEEP_ALIVE);
    if (!subscriber.drained) return this.cut(subscriber);
    subscriber.drained = false;
  }

  private cut(subscriber: Subscriber): void {
    this.cutOff++;
    this.metrics.keyChangeCutoffs.inc();
    this.drop(subscriber);
    subscriber.res.destroy();
  }

  /**
   * Ends the stream as a response ends; a subscriber that has not read what its socket
   * holds within END_LINGER_MS is disconnected, so that the server's close never waits on it.
   */
  private end(subscriber: Subscriber): void {
    this.drop(subscriber);
    const { res } = subscriber;
    res.end();
    const linger = setTimeout(() => res.destroy(), END_LINGER_MS);
    linger.unref();
    res.once('close', () => clearTimeout(linger));
  }

  private drop(subscriber: Subscriber): void {
    if (!subscriber.open) return;
    subscriber.open = false;
    subscriber.unsubscribe();
    subscriber.queue = [];
    this.subscribers.delete(subscriber);
    this.metrics.keyChangeStreams.set(this.subscribers.size);
    if (this.subscribers.size === 0) this.stopHeartbeat();
  }

  /** One timer for every stream, running while there is one. */
  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const subscriber of [...this.subscribers]) this.beat(subscriber);
    }, this.heartbeatSeconds * 1000);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private forbidden(call: Exchange, key: KeyRecord): void {
    const actor = { keyId: key.keyId, clientId: key.clientId, isSystem: key.isSystemClient, scopes: key.scopes };
    this.denied.observeDenial({
      context: { actor, requestId: call.id, sourceIp: call.sourceIp },
      status: 403,
      method: 'GET',
      route: KEY_CHANGES_PATH,
      params: {},
      requiredScopes: REQUIRED,
    });
    call.problem(
      new Forbidden(`This operation requires the scope ${INTROSPECT_SCOPE}.`, { required_scopes: REQUIRED }),
    );
  }
}

/** The `Last-Event-ID` header, else the `last_event_id` query parameter (for EventSource polyfills that cannot set headers). */
function lastEventIdOf(call: Exchange): string | null {
  const header = call.req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  const url = call.req.url ?? '';
  const query = url.indexOf('?');
  if (query < 0) return null;
  const param = new URLSearchParams(url.slice(query + 1)).get('last_event_id');
  return param && param.trim() !== '' ? param.trim() : null;
}

function resetReason(lastEventId: string, epoch: string): string {
  const dash = lastEventId.lastIndexOf('-');
  return dash > 0 && lastEventId.slice(0, dash) === epoch ? 'buffer_exceeded' : 'unknown_stream';
}
