import { BeforeApplicationShutdown, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, LogLevel, RouteOptions } from 'fastify';
import { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { Environment } from '../config/config';
import { KeyVerifier } from '../credentials/key-verifier';
import { UsageRecorder } from '../usage/usage-recorder';
import { authorizeRoutes } from './authorize.route';
import { DrainGate } from './drain-gate';
import { introspectRoute } from './introspect.route';
import { KeyCheck } from './key-check';
import { lazyChildLogger } from './lazy-logger';

/** How long shutdown waits for hot-path calls under way before writing the last usage counts. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Registers the two hot endpoints on Fastify itself rather than as Nest controllers:
 * Nest's per-request pipeline (guards, pipes, interceptors) would cost about half
 * the throughput. They still authenticate through the one KeyVerifier, validate with
 * a JSON schema, and answer errors as problem details.
 */
@Injectable()
export class HotPathRoutes implements OnModuleInit, BeforeApplicationShutdown {
  private readonly gate = new DrainGate();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly verifier: KeyVerifier,
    private readonly check: KeyCheck,
    private readonly usage: UsageRecorder,
    private readonly env: Environment,
    private readonly failures: AuthFailureThrottle,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    // The per-request info line (src/app.ts) is noise at this rate; it shows at debug and trace.
    const level = this.env.LOG_LEVEL as LogLevel;
    const logLevel = ['debug', 'trace', 'silent'].includes(level) ? level : highest(level, 'warn');
    const { failures } = this;
    const routes = [introspectRoute({ verifier: this.verifier, check: this.check, gate: this.gate, failures, logLevel }), ...authorizeRoutes({ check: this.check, gate: this.gate, failures, logLevel })];
    // Helmet's headers protect browsers; these answers go to services and gateways, and the headers cost a tenth of the throughput.
    for (const route of routes) fastify.route({ ...route, config: { ...route.config, securityHeaders: false }, childLoggerFactory: lazyChildLogger } as RouteOptions);
  }

  /** Stop taking calls, let those under way finish, then write every count they made. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.gate.close(DRAIN_TIMEOUT_MS);
    await this.usage.flushBeforeExit();
  }
}

const SEVERITY: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
function highest(a: LogLevel, b: LogLevel): LogLevel {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}
