import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { keyhouse, type KeyhouseVariables } from '@keyhouse/client/hono';
import { middlewareSuite } from './middleware-suite';

middlewareSuite('Hono', async (verifier, scopes) => {
  const app = new Hono<{ Variables: KeyhouseVariables }>();
  app.get('/orders', keyhouse({ verifier, scopes: [scopes.read] }));
  app.post('/orders', keyhouse({ verifier, scopes: [scopes.write] }));
  app.on(['GET', 'POST'], '/orders', (c) =>
    c.json({
      identity: c.get('keyhouse'),
      authorization: c.req.header('authorization') ?? null,
      apiKey: c.req.header('x-api-key') ?? null,
    }),
  );
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((listening) => server.once('listening', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        (server as import('node:http').Server).closeAllConnections();
      }),
  };
});
