import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { NotFound } from './errors';
import { redactKeys } from './redact';
import { sendProblem } from './send-problem';

/** Which listener answers a route: the public one (the API, docs), the management one (metrics), or both (health). */
export type ServedOn = 'public' | 'management' | 'both';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Where the route is answered when the management listener is a listener of its own; `public` when unset. */
    servedOn?: ServedOn;
  }
}

const MANAGEMENT = Symbol('keyhouse.managementListener');

/** Marks a request as one the management listener received. */
export function markManagement(req: IncomingMessage): void {
  (req as IncomingMessage & { [MANAGEMENT]?: true })[MANAGEMENT] = true;
}

/** Whether the management listener received the request (never, when the public listener serves everything). */
export function onManagement(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { [MANAGEMENT]?: true })[MANAGEMENT] === true;
}

/**
 * The onRequest hook that keeps each route to its listener: a route asked for on the
 * other one is a 404, as if it did not exist there (no route is, when the one listener
 * serves everything). A path no route matches is the router's own 404 on either.
 */
export function keepToListener(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (request.is404) return done();
  const servedOn = request.routeOptions.config?.servedOn ?? 'public';
  if (servedOn === 'both' || (servedOn === 'management') === onManagement(request.raw)) return done();
  sendProblem(new NotFound(`Cannot ${request.method} ${redactKeys(request.url.split('?')[0])}`), request, reply);
}
