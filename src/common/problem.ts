import { HttpException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { DatabaseUnavailable, DomainError, PROBLEM_TYPES, ProblemCode } from './errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One RFC 9457 body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface FieldError {
  /** JSON pointer into the request body (or `query`/`header` name) of the offending field. */
  pointer: string;
  detail: string;
}

export const problemType = (code: ProblemCode): string => `urn:keyhouse:problem:${code}`;

const CODE_BY_STATUS = new Map<number, ProblemCode>(
  Object.entries(PROBLEM_TYPES).map(([code, { status }]) => [status, code as ProblemCode]),
);

/** Error codes of the `pg` driver that mean "the database is not answering", not "your data is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '57014',
  '08000',
  '08001',
  '08003',
  '08006',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailable) return true;
  const driverError =
    err instanceof QueryFailedError ? (err.driverError as { code?: string }) : (err as { code?: string });
  if (driverError?.code && UNAVAILABLE_CODES.has(driverError.code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Driver not Connected/i.test(
    message,
  );
}

/** Turns anything thrown into a problem; `internal` is true for the ones to log with their stack. */
export function toProblem(err: unknown, instance: string, requestId: string): { problem: Problem; internal: boolean } {
  const base = (code: ProblemCode, detail?: string): Problem => ({
    type: problemType(code),
    title: PROBLEM_TYPES[code].title,
    status: PROBLEM_TYPES[code].status,
    ...(detail ? { detail } : {}),
    instance,
    request_id: requestId,
  });

  if (err instanceof DomainError) {
    return { problem: { ...base(err.code, err.detail), ...err.extensions }, internal: false };
  }
  if (isDatabaseUnavailable(err)) {
    return { problem: base('service-unavailable', new DatabaseUnavailable().detail), internal: false };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code = CODE_BY_STATUS.get(status);
    const response = err.getResponse();
    const {
      message,
      statusCode: _s,
      error: _e,
      ...extensions
    } = typeof response === 'string' ? { message: response } : (response as Record<string, unknown>);
    const detail = Array.isArray(message) ? message.join(',') : typeof message === 'string' ? message : err.message;
    if (code) return { problem: { ...base(code, detail), ...extensions }, internal: status >= 500 };
    return { problem: { ...base('internal-error', detail), status, title: err.name }, internal: status >= 500 };
  }
  const fastifyError = err as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const code = CODE_BY_STATUS.get(fastifyError.statusCode) ?? 'validation-failed';
    const problem = base(code, clientErrorDetail(fastifyError));
    return { problem: { ...problem, status: fastifyError.statusCode }, internal: false };
  }
  return {
    problem: base('internal-error', 'An unexpected error occurred; quote the request id when reporting it.'),
    internal: true,
  };
}

/** Fastify's own messages for client errors, minus anything echoing the request. */
function clientErrorDetail(err: { code?: string; message?: string }): string {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is larger than the service accepts.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json (or application/x-www-form-urlencoded where documented).';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The body is empty but its content type says JSON.';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case undefined:
      return 'The request body is not valid JSON.';
    default:
      return 'The request could not be read.';
  }
}
