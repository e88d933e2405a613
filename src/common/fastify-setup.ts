import {
  LogController,
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
} from 'fastify';
import type { AppConfig } from '../config/config';
import { isAddress } from './ip-address';
import { BadInput } from './errors';
import { requestId } from './request-id';
import { sendProblem } from './send-problem';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `true` for the routes that hand calls to the hot path, which takes a client address as it finds it. */
    hotPath?: boolean;
  }
}

/** What Nest's Fastify instance is made with: its logger, request ids, trusted proxies and limits. */
export function fastifyOptions(
  env: Pick<AppConfig, 'TRUSTED_PROXIES' | 'BODY_LIMIT_BYTES'>,
  logger: FastifyBaseLogger,
) {
  return {
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: requestId,
    trustProxy: trustedProxies(env.TRUSTED_PROXIES),
    bodyLimit: env.BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 200 },
    // Fastify's own answer while closing is a 503 with a JSON body of its own; refuseWhileClosing answers a problem.
    return503OnClosing: false,
  };
}

/** TRUSTED_PROXIES as Fastify's trustProxy: a list of addresses and CIDRs, or false. */
export function trustedProxies(value: string): string[] | false {
  const list = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return list.length > 0 ? list : false;
}

/**
 * The onSend hook: X-Request-Id on every answer, and the security headers on those of
 * routes that keep them. A callback hook rather than an async one: every request runs
 * it, and a promise each shows on the hot path.
 */
export function answerHeaders(securityHeaders: ReadonlyArray<readonly [string, string]>) {
  return (
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (err: Error | null, payload: unknown) => void,
  ): void => {
    void reply.header('X-Request-Id', request.id);
    if (reply.routeOptions.config?.securityHeaders !== false) {
      // A header the route set itself stays, as it did when helmet set these first.
      for (const [name, value] of securityHeaders) if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    done(null, payload);
  };
}

/**
 * The onResponse hook: one access log line per request, when its logger takes info: the
 * method, path (no query), status and time, the client address (through TRUSTED_PROXIES)
 * and the id of the key that authenticated, if one did (never the key).
 */
export function accessLog(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  // The hot routes log at warn: build no line for them.
  if (!(request.log as unknown as { isLevelEnabled(level: string): boolean }).isLevelEnabled('info')) return done();
  const ip = request.ip as string | undefined;
  request.log.info(
    {
      method: request.method,
      url: request.url.split('?')[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      // A forwarded text that is no address is refused (400) and never logged as one: the peer's address is.
      source_ip: ip !== undefined && isAddress(ip) ? ip : (request.socket.remoteAddress ?? null),
      actor_key_id: request.actor?.keyId ?? null,
    },
    'request',
  );
  done();
}

/**
 * The admin API's onRequest hook: a client address from X-Forwarded-For (through
 * TRUSTED_PROXIES) that is not a canonical IPv4 or IPv6 address is a 400 problem, never
 * recorded as an event's source_ip. The hot path's routes take such an address as none:
 * it is in no allowlist.
 */
export function refuseForwardedNonAddress(
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const ip = request.ip as string | undefined;
  if (ip === undefined || request.routeOptions.config?.hotPath || isAddress(ip)) return done();
  sendProblem(
    new BadInput('X-Forwarded-For: the client address a trusted proxy forwarded is not an IPv4 or IPv6 address.'),
    request,
    reply,
  );
}
