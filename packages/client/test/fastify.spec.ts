import Fastify from 'fastify';
import { keyhousePlugin } from '@keyhouse/client/fastify';
import { middlewareSuite } from './middleware-suite';

middlewareSuite('Fastify', async (verifier, scopes) => {
  const app = Fastify();
  await app.register(keyhousePlugin, { verifier });
  const handler = async (request: import('fastify').FastifyRequest) => ({
    identity: request.keyhouse,
    authorization: request.headers.authorization ?? null,
    apiKey: request.headers['x-api-key'] ?? null,
  });
  app.get('/orders', { config: { keyhouseScopes: [scopes.read] } }, handler);
  app.post('/orders', { config: { keyhouseScopes: [scopes.write] } }, handler);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
});
