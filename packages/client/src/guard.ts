import { extractKey, type KeyHeaders } from './extract-key.js';
import { httpAnswer, identityOf, type HttpAnswer, type Identity } from './http-answer.js';
import type { KeyEnvironment } from './key-format.js';
import type { Verifier } from './verifier.js';

/** What every middleware takes: the verifier, and what a request's key must be good for. */
export interface GuardOptions {
  verifier: Verifier;
  /** Scopes the key must cover on every route this guards. */
  scopes?: readonly string[];
  environment?: KeyEnvironment;
  /** Pass the caller's address to Keyhouse for keys with an IP allowlist. Default true. */
  checkIp?: boolean;
}

export type GuardResult = { identity: Identity; refusal?: undefined } | { identity?: undefined; refusal: HttpAnswer };

/**
 * The framework-free core of every middleware: reads the key, asks the verifier, removes the
 * key's headers (so the handler's own logging never sees it), and says what to answer.
 */
export async function guardRequest(
  headers: KeyHeaders,
  rawHeaders: string[] | undefined,
  clientIp: string | undefined,
  options: GuardOptions,
  routeScopes: readonly string[] = [],
): Promise<GuardResult> {
  const extracted = extractKey(headers);
  stripKeyHeaders(headers, rawHeaders);
  const scopes = routeScopes.length > 0 ? [...(options.scopes ?? []), ...routeScopes] : (options.scopes ?? []);
  if (extracted === null) return { refusal: httpAnswer(null)! };
  let decision;
  try {
    decision = await options.verifier.verify(extracted.key, {
      scopes,
      environment: options.environment,
      clientIp: options.checkIp === false ? undefined : normalIp(clientIp),
    });
  } catch (error) {
    return { refusal: httpAnswer(null, scopes, error)! };
  }
  if (!decision.active) return { refusal: httpAnswer(decision, scopes)! };
  return { identity: identityOf(decision) };
}

/** Removes `Authorization` and `X-API-Key`, from the parsed headers and from Node.js's raw list. */
export function stripKeyHeaders(headers: KeyHeaders, rawHeaders?: string[]): void {
  delete headers.authorization;
  delete headers['x-api-key'];
  if (!rawHeaders) return;
  for (let i = rawHeaders.length - 2; i >= 0; i -= 2) {
    const name = rawHeaders[i].toLowerCase();
    if (name === 'authorization' || name === 'x-api-key') rawHeaders.splice(i, 2);
  }
}

/** Keyhouse reads IPv4, IPv6 and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4 callers). */
function normalIp(ip: string | undefined): string | undefined {
  return ip && ip.length > 0 ? ip : undefined;
}
