import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { Forbidden, TooManyFailedAttempts, Unauthenticated } from '../common/errors';
import { KeyVerifier } from '../credentials/key-verifier';
import { scopeCovers } from '../credentials/scope-match';
import { presentedKey } from './actor';
import { AuthFailureThrottle } from './auth-failure-throttle';

export const REQUIRED_SCOPES = 'keyhouse:required-scopes';

declare module 'fastify' {
  interface FastifyRequest {
    requiredScopes?: string[];
  }
}

/** The scopes the guard required of a request, for the record of a denied attempt. */
export function requiredScopesOf(request: FastifyRequest): string[] {
  return request.requiredScopes ?? [];
}

/**
 * Authenticates an admin request with the same verifier introspection uses, then
 * checks the scopes the route requires. Missing and bad keys get one identical 401;
 * an address with too many bad keys gets a 429 for them instead.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    private readonly verifier: KeyVerifier,
    private readonly reflector: Reflector,
    private readonly failures: AuthFailureThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const required =
      this.reflector.getAllAndOverride<string[]>(REQUIRED_SCOPES, [context.getHandler(), context.getClass()]) ?? [];
    request.requiredScopes = required;
    const token = presentedKey(request.headers);
    if (!token) throw new Unauthenticated();
    const wait = this.failures.refuseFirst('admin', request.ip, token);
    if (wait !== null) throw new TooManyFailedAttempts(wait);
    const verdict = await this.verifier.verify(token, { clientIp: request.ip });
    if (!verdict.active) throw await this.failures.refusal('admin', request.ip);
    const key = verdict.record;
    request.actor = { keyId: key.keyId, clientId: key.clientId, isSystem: key.isSystemClient, scopes: key.scopes };
    // A route names one scope, or several of which any one will do.
    if (required.length > 0 && !required.some((needed) => key.scopes.some((held) => scopeCovers(held, needed)))) {
      throw new Forbidden(`This operation requires the scope ${required.join(' or ')}.`, { required_scopes: required });
    }
    return true;
  }
}
