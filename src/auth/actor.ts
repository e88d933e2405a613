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

// The key is read from a request as the client package's middleware reads it: one function for both.
export { presentedKey } from '../../packages/client/src/extract-key';
