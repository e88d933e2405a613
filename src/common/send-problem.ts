import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { ShuttingDown, STOPPING_HEADERS } from './shutting-down';
import { TooManyFailedAttempts } from './errors';
import { isDatabaseUnavailable, PROBLEM_CONTENT_TYPE, toProblem, type Problem } from './problem';
import { redactKeys } from './redact';

/** Writes the problem for `err`; an unexpected error is logged once, with its stack, and never sent. */
export function sendProblem(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem, headers } = problemAnswer(err, request.url, String(request.id), request.log);
  if (reply.sent) return;
  void reply.status(problem.status).headers(headers).header('Content-Type', PROBLEM_CONTENT_TYPE).send(problem);
}

/**
 * The problem for `err` on a request to `url`, and the headers that go with it besides its
 * content type; logged as it deserves: an unexpected error with its stack, a failing
 * database as a warning, anything else not at all.
 */
export function problemAnswer(
  err: unknown,
  url: string,
  requestId: string,
  log: FastifyBaseLogger,
): { problem: Problem; headers: Record<string, string> } {
  const { problem, internal } = toProblem(err, redactKeys(url.split('?')[0] ?? '/'), requestId);
  // A field name is what the caller typed, and the validator's message repeats it: a key sent as one is not sent back.
  for (const error of problem.errors ?? [])
    Object.assign(error, { pointer: redactKeys(error.pointer), detail: redactKeys(error.detail) });
  if (internal) log.error({ err }, 'unhandled error');
  // A 503 is also how a stopping instance refuses calls: only a failing database is worth a warning.
  else if (isDatabaseUnavailable(err)) log.warn({ err: { message: (err as Error)?.message } }, 'database unavailable');
  const headers: Record<string, string> = {};
  if (problem.status === 503) headers['retry-after'] = '1';
  if (err instanceof TooManyFailedAttempts) headers['retry-after'] = String(err.retryAfterSeconds);
  if (err instanceof ShuttingDown) Object.assign(headers, STOPPING_HEADERS);
  return { problem, headers };
}
