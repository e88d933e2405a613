import type { FastifyRequest } from 'fastify';
import { isAddress } from '../credentials/ip-allowlist';

/** The key behind an admin request. */
export interface Actor {
  keyId: string;
  clientId: string;
  /** Root keys belong to the system client and may act on every client. */
  isSystem: boolean;
  scopes: string[];
}

/** Who did it and from where: what every audit event records about its request. */
export interface RequestContext {
  actor: Actor | null;
  requestId: string;
  sourceIp: string;
}

export const ADMIN_SCOPES = [
  'admin:*',
  'admin:clients:read',
  'admin:clients:write',
  'admin:keys:read',
  'admin:keys:write',
  'admin:scopes:read',
  'admin:scopes:write',
  'admin:audit:read',
  'admin:introspect',
  'admin:leaks:report',
] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

/** The client whose resources the actor may touch; `null` means any (a root key). */
export function ownClientOnly(actor: Actor): string | null {
  return actor.isSystem ? null : actor.clientId;
}

export function requestContext(request: FastifyRequest): RequestContext {
  // Never a forwarded text that is no address (the admin API refuses it; the hot path's denied attempts record the peer).
  const sourceIp = isAddress(request.ip) ? request.ip : (request.socket.remoteAddress ?? '');
  return { actor: request.actor ?? null, requestId: String(request.id), sourceIp };
}

/**
 * Reads a key from `Authorization: Bearer <key>`, from `Authorization: Basic` (RFC 7617) as
 * RFC 7662 clients authenticate (client_secret_basic: the key as the password, under any user
 * name) or as `curl -u key:` sends it (the key as the user name, no password), or from
 * `X-API-Key: <key>`.
 */
export function presentedKey(headers: FastifyRequest['headers']): string | null {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (bearer) return bearer[1];
    const basic = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
    if (basic) return basicCredential(basic[1]);
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : null;
}

function basicCredential(encoded: string): string | null {
  const pair = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon < 0) return null;
  const secret = formDecoded(pair.slice(colon + 1) || pair.slice(0, colon));
  return secret ? secret : null;
}

/**
 * RFC 6749 §2.3.1: a client form-urlencodes its id and secret before Basic encoding them, so
 * `sk_live_…` may arrive as `sk%5Flive%5F…`. A key has no `%` or `+` of its own, so a key sent
 * unencoded (`curl -u key:`) decodes to itself. Bad percent-encoding is no credential.
 */
function formDecoded(text: string): string | null {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return null;
  }
}
