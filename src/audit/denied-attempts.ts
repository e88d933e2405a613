import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { DataSource } from 'typeorm';
import { requestContext, RequestContext } from '../auth/actor';
import { requiredScopesOf } from '../auth/admin.guard';
import { coversAll, isScopeName } from '../credentials/scope-match';
import { Metrics } from '../metrics/metrics';
import { ClientsRepository } from '../store/clients.repository';
import { KeysRepository } from '../store/keys.repository';
import { AuditEntry, AuditLog } from './audit-log';

/**
 * How denials are folded into events: one event per actor and operation per window, at
 * most `maxGroups` of them held at once and `maxGroupsPerClient` for the keys of one
 * client, and at most `maxLookups` 404s waiting for the query that tells whether they hid
 * anything.
 */
export const DENIAL_LIMITS = { windowMs: 10_000, maxGroups: 1000, maxGroupsPerClient: 20, maxLookups: 1000 };
/** Distinct targets an event lists. */
const MAX_TARGETS = 10;

/** Admin routes whose first parameter names a resource: what a 404 may be hiding. */
const RESOURCE_ROUTE = /^\/v1\/(keys|clients|scopes)\/:(\w+)/;
const TARGET_TYPES = { keys: 'key', clients: 'client', scopes: 'scope' } as const;

type Target = { type: AuditEntry['targetType']; id: string };

/** What is kept of a denied request: no header, body or query string, so never a presented key. */
interface Attempt {
  context: RequestContext;
  status: 403 | 404;
  method: string;
  route: string;
  params: Record<string, string>;
  requiredScopes: string[];
  target: Target | null;
  at: number;
}

/** A denied request as observed: who, what and why. */
export interface Denial {
  context: RequestContext;
  status: number;
  method: string;
  route: string;
  params: Record<string, string>;
  requiredScopes: string[];
}

/** Denials of one actor and operation within a window: one event, with their count. */
interface Group {
  first: Attempt;
  reason: string;
  targets: string[];
  count: number;
  lastAt: number;
}

/** Denials past the cap while the previous batch is still being written: one event, no actor. */
interface Overflow {
  first: Attempt;
  count: number;
  lastAt: number;
}

/**
 * Records denied admin attempts as `access.denied` audit events: every 403 answered
 * to an authenticated key, and every 404 that hid another client's key or client
 * from a non-root key. A 401 is not recorded: it has no actor, and anonymous callers
 * could otherwise write to the trail without limit.
 *
 * One key must not decide how much is written either: denials of the same actor,
 * operation (method and route), status and reason (and, for a 404, target) within a
 * window are one event carrying `count`, `first_at` and `last_at`. At most `maxGroups`
 * are held; a new one past the cap writes the held ones at once, or, when the previous
 * batch is still being written, is counted into a single overflow event (no actor). So
 * memory is bounded (at most two batches and the one being written) and so is the
 * trail's growth, whoever sends what. Held denials are written on shutdown.
 *
 * Events are written after the response has gone, one at a time, each in its own
 * transaction: a failed write is logged and counted and never changes the answer,
 * and a flood of denials holds at most one database connection.
 */
@Injectable()
export class DeniedAttempts implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeniedAttempts');
  /** Tests narrow these; the service uses the defaults. */
  readonly limits = { ...DENIAL_LIMITS };
  private pending = new Map<string, Group>();
  /** Groups held per actor's client, so that no one client's keys fill the cap. */
  private heldByClient = new Map<string, number>();
  private overflow: Overflow | null = null;
  private timer: NodeJS.Timeout | null = null;
  private tail: Promise<void> = Promise.resolve();
  /** Batches queued or being written. */
  private batches = 0;
  private lookups: Promise<void> = Promise.resolve();
  private waitingLookups = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly metrics: Metrics,
    private readonly adapterHost: HttpAdapterHost,
    private readonly keys: KeysRepository,
    private readonly clients: ClientsRepository,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.addHook('onResponse', this.onResponse);
  }

  /** The onResponse hook that observes each answer of Nest's instance. */
  readonly onResponse = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    this.observe(request, reply.statusCode);
    done();
  };

  async beforeApplicationShutdown(): Promise<void> {
    await this.settled();
  }

  /** Writes every denial observed so far; resolves when they are written (or given up on). */
  async settled(): Promise<void> {
    await this.lookups;
    this.flush();
    await this.tail;
  }

  /** Groups held now, for the bound's test. */
  get held(): number {
    return this.pending.size;
  }

  observe(request: FastifyRequest, status: number): void {
    if (!request.actor || (status !== 403 && status !== 404)) return;
    this.observeDenial({
      context: requestContext(request),
      status,
      method: request.method,
      route: request.routeOptions.url ?? '',
      params: { ...(request.params as Record<string, string>) },
      requiredScopes: requiredScopesOf(request),
    });
  }

  /** A denial answered outside Nest's instance (the hot path's): the same record as observe makes. */
  observeDenial(denial: Denial): void {
    const { context, status, route, params } = denial;
    const actor = context.actor;
    if (!actor || (status !== 403 && status !== 404)) return;
    if (status === 404 && actor.isSystem) return;
    const attempt: Attempt = { ...denial, status, target: targetOf(route, params), at: Date.now() };
    if (status === 403) {
      this.count(attempt, coversAll(actor.scopes, attempt.requiredScopes) ? 'not_permitted' : 'missing_scope');
      return;
    }
    // A 404 is recorded only when it hid something: known once per target and window.
    const target = attempt.target;
    if (!target) return;
    if (this.pending.has(groupKey(attempt, 'other_client'))) {
      this.count(attempt, 'other_client');
      return;
    }
    // Past the lookups it waits for, a 404 is still one of its actor's: a flood of 404s for ids that name nothing must not hide one that did.
    if (this.waitingLookups >= this.limits.maxLookups) {
      this.count(attempt, UNCHECKED);
      return;
    }
    this.waitingLookups++;
    this.lookups = this.lookups
      .then(async () => {
        if (await this.belongsToAnotherClient(target, actor.clientId)) this.count(attempt, 'other_client');
      })
      .catch((err: Error) => {
        this.metrics.deniedAttempts.inc({ result: 'failed' });
        this.logger.warn(`denied attempt ${attempt.context.requestId} not recorded: ${err.message}`);
      })
      .finally(() => this.waitingLookups--);
  }

  private count(attempt: Attempt, given: string): void {
    const clientId = attempt.context.actor!.clientId;
    let key = groupKey(attempt, given);
    let reason = given;
    // One client's keys share its groups: past its share, the rest is one event naming it, never the overflow of everyone.
    if (!this.pending.has(key) && (this.heldByClient.get(clientId) ?? 0) >= this.limits.maxGroupsPerClient) {
      key = `${CLIENT_OVERFLOW} ${clientId}`;
      reason = CLIENT_OVERFLOW;
    }
    let group = this.pending.get(key);
    if (!group) {
      if (this.pending.size >= this.limits.maxGroups) {
        if (this.batches > 0) {
          this.overflowed(attempt);
          return;
        }
        this.flush();
      }
      group = { first: attempt, reason, targets: [], count: 0, lastAt: attempt.at };
      this.pending.set(key, group);
      this.heldByClient.set(clientId, (this.heldByClient.get(clientId) ?? 0) + 1);
      this.timer ??= setTimeout(() => this.onWindowEnd(), this.limits.windowMs).unref();
    }
    group.count++;
    group.lastAt = attempt.at;
    // A client's overflow lists its keys; any other group the targets it was denied.
    const id = reason === CLIENT_OVERFLOW ? attempt.context.actor!.keyId : attempt.target?.id;
    if (id !== undefined && group.targets.length < MAX_TARGETS && !group.targets.includes(id)) group.targets.push(id);
  }

  private overflowed(attempt: Attempt): void {
    if (this.overflow) {
      this.overflow.count++;
      this.overflow.lastAt = attempt.at;
    } else {
      this.overflow = { first: attempt, count: 1, lastAt: attempt.at };
    }
  }

  /** At the end of a window: write what is held, unless two batches already wait (the database is slow); then the next window takes it. */
  private onWindowEnd(): void {
    this.timer = null;
    if (this.batches >= 2) this.timer = setTimeout(() => this.onWindowEnd(), this.limits.windowMs).unref();
    else this.flush();
  }

  /** Queues every held group (and the overflow) for writing, and starts a new window. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = [...this.pending.values()];
    const overflow = this.overflow;
    this.pending = new Map();
    this.heldByClient = new Map();
    this.overflow = null;
    if (batch.length === 0 && !overflow) return;
    this.batches++;
    this.tail = this.tail
      .then(async () => {
        for (const group of batch) await this.write(group.first.context, group.count, entryFor(group));
        if (overflow)
          await this.write({ ...overflow.first.context, actor: null }, overflow.count, overflowEntry(overflow));
      })
      .finally(() => this.batches--);
  }

  private async write(context: RequestContext, count: number, entry: AuditEntry): Promise<void> {
    try {
      await this.dataSource.transaction((manager) => this.audit.append(manager, context, entry));
      this.metrics.deniedAttempts.inc({ result: 'recorded' }, count);
    } catch (err) {
      this.metrics.deniedAttempts.inc({ result: 'failed' }, count);
      this.logger.warn(`denied attempts from ${context.requestId} (${count}) not recorded: ${(err as Error).message}`);
    }
  }

  private async belongsToAnotherClient(target: Target, ownClientId: string): Promise<boolean> {
    if (target.type === 'key') {
      const clientId = await this.keys.clientIdOf(target.id);
      return clientId !== undefined && clientId !== ownClientId;
    }
    if (target.type === 'client') return target.id !== ownClientId && (await this.clients.exists(target.id));
    return false;
  }
}

const OVERFLOW_TARGET = 'denied-attempts-overflow';
/** The reason of the one event that takes a client's denials past its share of the groups. */
const CLIENT_OVERFLOW = 'client_overflow';

/** The reason of 404s past `maxLookups`: not known to have hidden anything, nor known not to. */
const UNCHECKED = 'unchecked';

/** Denials are one event per actor, status, operation and reason; a 404 that hid something also per target (it names what was hidden). */
function groupKey(attempt: Attempt, reason: string): string {
  const target = attempt.status === 404 && reason !== UNCHECKED ? (attempt.target?.id ?? '') : '';
  return `${attempt.context.actor!.keyId} ${attempt.status} ${attempt.method} ${attempt.route} ${reason} ${target}`;
}

function span(first: Attempt, count: number, lastAt: number) {
  return { count, first_at: new Date(first.at).toISOString(), last_at: new Date(lastAt).toISOString() };
}

function entryFor(group: Group): AuditEntry {
  const { first } = group;
  if (group.reason === CLIENT_OVERFLOW) {
    // Target the actor's client, so `?target=<client id>` finds it; `keys` lists up to 10 of the keys denied.
    return {
      action: 'access.denied',
      targetType: 'client',
      targetId: first.context.actor!.clientId,
      clientId: null,
      changes: { reason: CLIENT_OVERFLOW, keys: group.targets, ...span(first, group.count, group.lastAt) },
    };
  }
  return {
    action: 'access.denied',
    targetType: first.target?.type ?? 'system',
    targetId: first.target?.id ?? first.route.slice(0, 128),
    // Only root keys see denials: an event in the caller's own trail would tell it which hidden ids exist.
    clientId: null,
    changes: {
      status: first.status,
      method: first.method,
      path: pathOf(first.route, first.params),
      required_scopes: first.requiredScopes,
      reason: group.reason,
      ...span(first, group.count, group.lastAt),
      ...(group.targets.length > 1 ? { targets: group.targets } : {}),
    },
  };
}

function overflowEntry(overflow: Overflow): AuditEntry {
  return {
    action: 'access.denied',
    targetType: 'system',
    targetId: OVERFLOW_TARGET,
    clientId: null,
    changes: { reason: 'overflow', ...span(overflow.first, overflow.count, overflow.lastAt) },
  };
}

/** A route parameter as it may be stored: an `:id` that is a UUID or a `:name` that is a scope name, never anything else a caller typed. */
function safeParam(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (name === 'id') return isUUID(value) ? value.toLowerCase() : null;
  if (name === 'name') return isScopeName(value) ? value : null;
  return null;
}

function targetOf(route: string, params: Record<string, string>): Target | null {
  const match = RESOURCE_ROUTE.exec(route);
  if (!match) return null;
  const id = safeParam(match[2], params[match[2]]);
  return id ? { type: TARGET_TYPES[match[1] as keyof typeof TARGET_TYPES], id } : null;
}

/** The route with its parameters filled in where they are safe to keep, e.g. `/v1/keys/<uuid>/rotate`. */
function pathOf(route: string, params: Record<string, string>): string {
  return route.replace(/:(\w+)/g, (placeholder, name: string) => safeParam(name, params[name]) ?? placeholder);
}
