import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Optional,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { guardRequest, type GuardOptions } from './guard.js';
import type { Identity } from './http-answer.js';
import type { Verifier } from './verifier.js';

export type { Identity } from './http-answer.js';

/** The provider the guard takes its verifier from: `{ provide: KEYHOUSE_VERIFIER, useValue: createVerifier(...) }`. */
export const KEYHOUSE_VERIFIER = Symbol.for('keyhouse:verifier');
/** Optional: guard options besides the verifier (scopes for every route, environment, checkIp). */
export const KEYHOUSE_OPTIONS = Symbol.for('keyhouse:options');
const SCOPES = 'keyhouse:scopes';

/** The scopes a route (or every route of a controller) needs: `@RequireScopes('orders:read')`. */
export const RequireScopes = (...scopes: string[]) => SetMetadata(SCOPES, scopes);

/** The key's identity, as a handler parameter: `list(@KeyhouseIdentity() caller: Identity)`. */
export const KeyhouseIdentity = createParamDecorator(
  (_: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<{ keyhouse?: Identity }>().keyhouse,
);

interface AnyRequest {
  headers: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  raw?: { headers: Record<string, string | string[] | undefined>; rawHeaders?: string[] };
  ip?: string;
  socket?: { remoteAddress?: string };
  keyhouse?: Identity;
}

interface AnyResponse {
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

/**
 * A guard for the consuming service's routes, on Nest's Express or Fastify platform: refuses a
 * request without a good key for the route's `@RequireScopes()` (401, 403, 429, 503, with RFC
 * 6750's `WWW-Authenticate`) and sets `request.keyhouse`. The key's headers are removed first.
 */
@Injectable()
export class KeyhouseGuard implements CanActivate {
  constructor(
    @Inject(KEYHOUSE_VERIFIER) private readonly verifier: Verifier,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Optional() @Inject(KEYHOUSE_OPTIONS) private readonly options: Omit<GuardOptions, 'verifier'> = {},
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<AnyRequest>();
    const scopes = this.reflector.getAllAndMerge<string[]>(SCOPES, [context.getHandler(), context.getClass()]) ?? [];
    const raw = request.raw ?? request;
    const result = await guardRequest(
      raw.headers,
      raw.rawHeaders,
      request.ip ?? request.socket?.remoteAddress,
      { ...this.options, verifier: this.verifier },
      scopes,
    );
    if (!result.refusal) {
      request.keyhouse = result.identity;
      return true;
    }
    const response = http.getResponse<AnyResponse>();
    for (const [name, value] of Object.entries(result.refusal.headers)) {
      if (name === 'content-type') continue;
      if (typeof response.header === 'function') response.header(name, value);
      else response.setHeader?.(name, value);
    }
    throw new HttpException(result.refusal.body, result.refusal.status);
  }
}
