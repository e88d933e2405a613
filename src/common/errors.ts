/**
 * Domain errors, named per module and mapped to HTTP in one table (`PROBLEM_TYPES`).
 * Services throw these; the problem-details filter turns them into RFC 9457 bodies.
 */
export abstract class DomainError extends Error {
  abstract readonly code: ProblemCode;
  constructor(
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

export const PROBLEM_TYPES = {
  'not-found': { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
  'validation-failed': { status: 400, title: 'Bad Request' },
  unauthenticated: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  'rate-limited': { status: 429, title: 'Too Many Requests' },
  'payload-too-large': { status: 413, title: 'Content Too Large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported Media Type' },
  'request-timeout': { status: 408, title: 'Request Timeout' },
  'request-header-fields-too-large': { status: 431, title: 'Request Header Fields Too Large' },
  'service-unavailable': { status: 503, title: 'Service Unavailable' },
  'internal-error': { status: 500, title: 'Internal Server Error' },
} as const;
export type ProblemCode = keyof typeof PROBLEM_TYPES;

export class NotFound extends DomainError {
  readonly code = 'not-found' as const;
}
export class Conflict extends DomainError {
  readonly code = 'conflict' as const;
}
export class BadInput extends DomainError {
  readonly code = 'validation-failed' as const;
}
export class Unauthenticated extends DomainError {
  readonly code = 'unauthenticated' as const;
  constructor() {
    super('A valid API key is required: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
  }
}
export class Forbidden extends DomainError {
  readonly code = 'forbidden' as const;
}
export class UnsupportedMediaType extends DomainError {
  readonly code = 'unsupported-media-type' as const;
}

/** Too many failed authentications from one address: the answer until `retryAfterSeconds` have passed. */
export class TooManyFailedAttempts extends DomainError {
  readonly code = 'rate-limited' as const;
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many requests with keys that are not good from this address; retry after ${retryAfterSeconds} seconds.`);
  }
}

/** The database could not be reached or timed out: never a yes, never half a write. */
export class DatabaseUnavailable extends DomainError {
  readonly code = 'service-unavailable' as const;
  constructor(readonly reason?: unknown) {
    super('The database is unavailable; try again shortly.');
  }
}
