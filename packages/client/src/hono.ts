import type { Context, MiddlewareHandler } from 'hono';
import { guardRequest, type GuardOptions } from './guard.js';
import type { Identity } from './http-answer.js';

export type { GuardOptions } from './guard.js';
export type { Identity } from './http-answer.js';

export interface HonoGuardOptions extends GuardOptions {
  /**
   * The caller's address, for keys with an IP allowlist. Default: the socket's address under
   * @hono/node-server (`c.env.incoming`); on other runtimes give it (e.g. from `getConnInfo`).
   */
  clientIp?: (c: Context) => string | undefined;
}

/** `c.get('keyhouse')` in the routes behind the middleware. */
export type KeyhouseVariables = { keyhouse: Identity };

/**
 * Hono middleware: refuses a request without a good key (401, 403, 429, 503 as RFC 6750 has
 * them), otherwise sets `c.var.keyhouse`. The key's headers are removed from the request first.
 *
 *     app.use('/orders/*', keyhouse({ verifier, scopes: ['orders:read'] }));
 */
export function keyhouse(options: HonoGuardOptions): MiddlewareHandler<{ Variables: KeyhouseVariables }> {
  return async (c, next) => {
    const headers = { authorization: c.req.header('authorization'), 'x-api-key': c.req.header('x-api-key') };
    const ip = options.clientIp ? options.clientIp(c) : nodeSocketAddress(c);
    const result = await guardRequest(headers, undefined, ip, options);
    for (const name of ['authorization', 'x-api-key']) {
      try {
        c.req.raw.headers.delete(name);
      } catch {
        // Immutable headers (some runtimes): the handler still never gets the key from the guard.
      }
    }
    if (result.refusal) {
      return c.body(JSON.stringify(result.refusal.body), result.refusal.status, result.refusal.headers);
    }
    c.set('keyhouse', result.identity);
    await next();
  };
}

function nodeSocketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}
