import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` for routes whose callers are services, not browsers: no helmet headers. */
    securityHeaders?: boolean;
  }
}

/** Headers every response has, helmet's or not. */
const NOT_HELMETS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'content-type']);

/**
 * The headers @fastify/helmet sets with these options, read once from a throwaway instance.
 * Without a Content-Security-Policy they are the same on every response, so the app can set
 * them in its one onSend hook, and leave them off the hot path, instead of running the
 * plugin's two hooks (and their promises) on every request, hot path included.
 */
export async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify();
  await probe.register(helmet, options);
  probe.get('/', (_request, reply) => reply.code(204).send());
  const response = await probe.inject('/');
  await probe.close();
  return Object.fromEntries(
    Object.entries(response.headers)
      .filter(([name]) => !NOT_HELMETS.has(name))
      .map(([name, value]) => [name, String(value)]),
  );
}
