import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import {
  ApiExtension,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ProblemResponse } from '../common/problem.response';
import { AdminScope, requestContext } from './actor';
import { AdminGuard, REQUIRED_SCOPES } from './admin.guard';

export const BEARER_SCHEME = 'bearer';
export const API_KEY_SCHEME = 'api_key';
export const BASIC_SCHEME = 'basic';
export const TOO_MANY_FAILURES =
  'Too many requests with keys that are not good from this address (`AUTH_FAILURE_LIMIT` per `AUTH_FAILURE_WINDOW_SECONDS`): its bad keys get this instead of a 401 until `Retry-After` seconds have passed. A good key still passes.';

/**
 * Guards a route with an admin key holding `scope` (or `admin:*`), or any one of
 * `alternatives`, and documents the requirement in OpenAPI: its security schemes, the
 * scopes, and the 401 and 403.
 */
export function RequireScopes(scope: AdminScope, ...alternatives: AdminScope[]) {
  const scopes = [scope, ...alternatives];
  const named = scopes.map((s) => `\`${s}\``).join(' or ');
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPES, scopes),
    UseGuards(AdminGuard),
    // OpenAPI 3.0 allows scopes only for OAuth schemes; the scope is named in x-required-scopes.
    ApiSecurity(BEARER_SCHEME),
    ApiSecurity(API_KEY_SCHEME),
    ApiSecurity(BASIC_SCHEME),
    ApiExtension('x-required-scopes', scopes),
    ApiUnauthorizedResponse({ description: 'No key, or a key that is not good.', type: ProblemResponse }),
    ApiForbiddenResponse({ description: `The key lacks ${named}.`, type: ProblemResponse }),
    ApiTooManyRequestsResponse({ description: TOO_MANY_FAILURES, type: ProblemResponse }),
  );
}

/** The request's actor, request id and source address, for the service and its audit events. */
export const Ctx = createParamDecorator((_: unknown, context: ExecutionContext) =>
  requestContext(context.switchToHttp().getRequest<FastifyRequest>()),
);
