import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { DataSource } from 'typeorm';
import { requestContext, RequestContext } from '../auth/actor';
import { requiredScopesOf } from '../auth/admin.guard';
import { coversAll, SCOPE_NAME_PATTERN } from '../credentials/scope-match';
import { Metrics } from '../metrics/metrics';
import { AuditEntry, AuditLog } from './audit-log';

/** Denials waiting to be written; beyond this they are dropped (and counted), never queued without end. */
const MAX_QUEUED = 1000;

/** Admin routes whose first parameter names a resource: what a 404 may be hiding. */
const RESOURCE_ROUTE = /^\/v1\/(keys|clients|scopes)\/:(\w+)/;
const TARGET_TYPES = { keys: 'key', clients: 'client', scopes: 'scope' } as const;

/** What is kept of a denied request: no header, body or query string, so never a presented key. */
interface Attempt {
  context: RequestContext;
  status: 403 | 404;
  method: string;
  route: string;
  params: Record<string, string>;
  requiredScopes: string[];
}

/**
 * Records denied admin attempts as `access.denied` audit events: every 403 answered
 * to an authenticated key, and every 404 that hid another client's key or client
 * from a non-root key. A 401 is not recorded: it has no actor, and anonymous callers
 * could otherwise write to the trail without limit.
 *
 * Events are written after the response has gone, one at a time, each in its own
 * transaction: a failed write is logged and counted and never changes the answer,
 * and a flood of denials holds at most one database connection.
 */
@Injectable()
export class DeniedAttempts implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeniedAttempts');
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly metrics: Metrics,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.addHook('onResponse', this.onResponse);
  }

  /** The onResponse hook that observes each answer; the hot path's own Fastify instance adds it too. */
  readonly onResponse = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    this.observe(request, reply.statusCode);
    done();
  };

  async beforeApplicationShutdown(): Promise<void> {
    await this.tail;
  }

  /** Resolves when every denial observed so far has been written (or given up on). */
  settled(): Promise<void> {
    return this.tail;
  }

  observe(request: FastifyRequest, status: number): void {
    const actor = request.actor;
    if (!actor || (status !== 403 && status !== 404)) return;
    if (status === 404 && actor.isSystem) return;
    if (this.queued >= MAX_QUEUED) {
      this.metrics.deniedAttempts.inc({ result: 'dropped' });
      return;
    }
    const attempt: Attempt = {
      context: requestContext(request),
      status,
      method: request.method,
      route: request.routeOptions.url ?? '',
      params: { ...(request.params as Record<string, string>) },
      requiredScopes: requiredScopesOf(request),
    };
    this.queued++;
    this.tail = this.tail.then(() => this.write(attempt)).finally(() => this.queued--);
  }

  private async write(attempt: Attempt): Promise<void> {
    try {
      const entry = await this.entryFor(attempt);
      if (!entry) return;
      await this.dataSource.transaction((manager) => this.audit.append(manager, attempt.context, entry));
      this.metrics.deniedAttempts.inc({ result: 'recorded' });
    } catch (err) {
      this.metrics.deniedAttempts.inc({ result: 'failed' });
      this.logger.warn(`denied attempt ${attempt.context.requestId} not recorded: ${(err as Error).message}`);
    }
  }

  /** The event, or null for a 404 that hid nothing (the resource does not exist at all). */
  private async entryFor(attempt: Attempt): Promise<AuditEntry | null> {
    const actor = attempt.context.actor!;
    const target = targetOf(attempt.route, attempt.params);
    let reason: string;
    if (attempt.status === 404) {
      if (!target || !(await this.belongsToAnotherClient(target, actor.clientId))) return null;
      reason = 'other_client';
    } else {
      reason = coversAll(actor.scopes, attempt.requiredScopes) ? 'not_permitted' : 'missing_scope';
    }
    return {
      action: 'access.denied',
      targetType: target?.type ?? 'system',
      targetId: target?.id ?? attempt.route.slice(0, 128),
      // Only root keys see denials: an event in the caller's own trail would tell it which hidden ids exist.
      clientId: null,
      changes: {
        status: attempt.status,
        method: attempt.method,
        path: pathOf(attempt.route, attempt.params),
        required_scopes: attempt.requiredScopes,
        reason,
      },
    };
  }

  private async belongsToAnotherClient(target: { type: string; id: string }, ownClientId: string): Promise<boolean> {
    if (target.type === 'key') {
      const rows = await this.dataSource.query<{ client_id: string }[]>('SELECT client_id FROM api_keys WHERE id = $1', [target.id]);
      return rows.length > 0 && rows[0]!.client_id !== ownClientId;
    }
    if (target.type === 'client') {
      const rows = await this.dataSource.query<unknown[]>('SELECT 1 FROM clients WHERE id = $1', [target.id]);
      return rows.length > 0 && target.id !== ownClientId;
    }
    return false;
  }
}

/** A route parameter as it may be stored: an `:id` that is a UUID or a `:name` that is a scope name, never anything else a caller typed. */
function safeParam(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (name === 'id') return isUUID(value) ? value.toLowerCase() : null;
  if (name === 'name') return value.length <= 128 && SCOPE_NAME_PATTERN.test(value) ? value : null;
  return null;
}

function targetOf(route: string, params: Record<string, string>): { type: AuditEntry['targetType']; id: string } | null {
  const match = RESOURCE_ROUTE.exec(route);
  if (!match) return null;
  const id = safeParam(match[2]!, params[match[2]!]);
  return id ? { type: TARGET_TYPES[match[1] as keyof typeof TARGET_TYPES], id } : null;
}

/** The route with its parameters filled in where they are safe to keep, e.g. `/v1/keys/<uuid>/rotate`. */
function pathOf(route: string, params: Record<string, string>): string {
  return route.replace(/:(\w+)/g, (placeholder, name: string) => safeParam(name, params[name]) ?? placeholder);
}
