import type { AddressInfo } from 'node:net';
import express from 'express';
import { keyhouse, type KeyhouseRequest } from '@keyhouse/client/express';
import { middlewareSuite } from './middleware-suite';

middlewareSuite('Express', async (verifier, scopes) => {
  const app = express();
  const handler = (req: KeyhouseRequest, res: express.Response) =>
    res.json({
      identity: req.keyhouse,
      authorization: req.headers.authorization ?? null,
      apiKey: req.headers['x-api-key'] ?? null,
    });
  app.get('/orders', keyhouse({ verifier, scopes: [scopes.read] }), handler);
  app.post('/orders', keyhouse({ verifier, scopes: [scopes.write] }), handler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((listening) => server.once('listening', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
});
