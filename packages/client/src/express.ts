import type { IncomingMessage, ServerResponse } from 'node:http';
import { guardRequest, type GuardOptions } from './guard.js';
import type { HttpAnswer, Identity } from './http-answer.js';

export type { GuardOptions } from './guard.js';
export type { Identity } from './http-answer.js';

/** The parts of Express's request this middleware uses (Express 4 and 5): no dependency on its types. */
export interface KeyhouseRequest extends IncomingMessage {
  ip?: string;
  keyhouse?: Identity;
}

type Next = (error?: unknown) => void;

/**
 * Express middleware: refuses a request without a good key (401, 403, 429, 503 as RFC 6750 has
 * them), otherwise sets `req.keyhouse` to the key's identity. The key's headers are gone before
 * the next handler runs.
 *
 *     app.use(keyhouse({ verifier, scopes: ['orders:read'] }));
 */
export function keyhouse(options: GuardOptions) {
  return (req: KeyhouseRequest, res: ServerResponse, next: Next): void => {
    guardRequest(req.headers, req.rawHeaders, req.ip ?? req.socket.remoteAddress, options).then((result) => {
      if (result.refusal) return send(res, result.refusal);
      req.keyhouse = result.identity;
      next();
    }, next);
  };
}

/** The same, for one route that needs scopes of its own: `app.get('/orders', requireScopes(verifier, 'orders:read'), ...)`. */
export function requireScopes(verifier: GuardOptions['verifier'], ...scopes: string[]) {
  return keyhouse({ verifier, scopes });
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(answer.body));
}
