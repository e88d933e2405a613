import type { FastifyInstance } from 'fastify';
import { ShuttingDown, STOPPING_HEADERS } from './shutting-down';
import { sendProblem } from './send-problem';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `true` for routes that answer errors with a status and headers only (forward auth). */
    bodylessErrors?: boolean;
  }
}

/** How long a closing server keeps its open connections to refuse what they send, before dropping them. */
const CLOSE_LINGER_MS = 1000;

/**
 * Once the server is closing (after the shutdown hooks have drained the hot path and
 * written the usage counts), a request that still arrives on an open keep-alive
 * connection gets a 503 (a problem, or no body where the route answers none) with
 * Retry-After and `Connection: close`, like any other refusal, rather than running
 * against a pool about to close. The server keeps its connections for up to
 * CLOSE_LINGER_MS so that those answers can be given: closing at once drops every idle
 * keep-alive connection, and a request its client had just sent on one is reset with
 * no answer, so the client cannot tell whether it was done.
 */
export function refuseWhileClosing(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    const server = fastify.server;
    if (!server.listening) return done();
    const deadline = Date.now() + CLOSE_LINGER_MS;
    const wait = () =>
      server.getConnections((err, open) =>
        err || open === 0 || Date.now() >= deadline ? done() : void setTimeout(wait, 20),
      );
    wait();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    // The headers of every stopping refusal (STOPPING_HEADERS), with a problem or without a body.
    if (request.routeOptions.config?.bodylessErrors) return void reply.status(503).headers(STOPPING_HEADERS).send();
    sendProblem(new ShuttingDown(), request, reply);
  });
}
