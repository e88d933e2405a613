import type { FastifyReply, FastifyRequest } from 'fastify';
import { TooManyFailedAttempts } from './errors';
import { isDatabaseUnavailable, PROBLEM_CONTENT_TYPE, toProblem } from './problem';
import { redactKeys } from './redact';

/** Writes the problem for `err`; an unexpected error is logged once, with its stack, and never sent. */
export function sendProblem(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem, internal } = toProblem(err, redactKeys(request.url.split('?')[0] ?? '/'), String(request.id));
  // A field name is what the caller typed, and the validator's message repeats it: a key sent as one is not sent back.
  for (const error of problem.errors ?? []) Object.assign(error, { pointer: redactKeys(error.pointer), detail: redactKeys(error.detail) });
  if (internal) request.log.error({ err }, 'unhandled error');
  // A 503 is also how a stopping instance refuses calls: only a failing database is worth a warning.
  else if (isDatabaseUnavailable(err)) request.log.warn({ err: { message: (err as Error)?.message } }, 'database unavailable');
  if (reply.sent) return;
  if (problem.status === 503) void reply.header('Retry-After', '1');
  if (err instanceof TooManyFailedAttempts) void reply.header('Retry-After', String(err.retryAfterSeconds));
  void reply.status(problem.status).header('Content-Type', PROBLEM_CONTENT_TYPE).send(problem);
}
