import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { guardRequest, type GuardOptions } from './guard.js';
import type { Identity } from './http-answer.js';

export type { GuardOptions } from './guard.js';
export type { Identity } from './http-answer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key's identity, set by the Keyhouse plugin once the key is good. */
    keyhouse?: Identity;
  }
  interface FastifyContextConfig {
    /** Scopes this route's key must cover, besides the plugin's own. */
    keyhouseScopes?: readonly string[];
  }
}

/**
 * A Fastify plugin: an `onRequest` hook for every route registered in its scope (wrap it in
 * fastify-plugin, or register it on the root, to cover the whole app) that refuses a request
 * without a good key and sets `request.keyhouse`. A route's `config.keyhouseScopes` adds scopes.
 *
 *     app.register(keyhousePlugin, { verifier, scopes: ['orders:read'] });
 */
export const keyhousePlugin: FastifyPluginCallback<GuardOptions> = (fastify, options, done) => {
  fastify.decorateRequest('keyhouse', undefined);
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const routeScopes = request.routeOptions.config?.keyhouseScopes ?? [];
    const result = await guardRequest(request.headers, request.raw.rawHeaders, request.ip, options, routeScopes);
    if (result.refusal) {
      return reply
        .code(result.refusal.status)
        .headers(result.refusal.headers)
        .send(JSON.stringify(result.refusal.body));
    }
    request.keyhouse = result.identity;
  });
  done();
};

// Registered on the app itself, not in a child context: the hook covers every route, as fastify-plugin would make it.
(keyhousePlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
