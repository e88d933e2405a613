import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server as HttpServer } from 'node:http';
import { type AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { makeClient, makeKey } from '../../../test/support/factories';
import { TestApp } from '../../../test/support/test-app';
import { until } from './middleware-suite';

/** README "Protect your service": each framework's example, run as written against a running Keyhouse. */
const ROOT = join(__dirname, '..', '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = /<!-- protect:start -->([\s\S]*?)<!-- protect:end -->/.exec(readme)?.[1] ?? '';
const examples = [...section.matchAll(/\*\*(\w+)\*\*\s+```ts\n([\s\S]*?)```/g)].map((m) => ({
  framework: m[1],
  code: m[2],
}));
// Per process, inside the package so that Jest compiles it and resolves `@keyhouse/client`.
const WORK = join(__dirname, 'readme-examples', String(process.pid));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  await new Promise((closed) => server.close(closed));
  return port;
}

describe('README: Protect your service', () => {
  let keyhouse: TestApp;
  let env: { KEYHOUSE_URL: string; KEYHOUSE_KEY: string };
  let caller: { clientId: string; key: string; other: string };
  const servers: Server[] = [];
  const listen = Server.prototype.listen;

  beforeAll(async () => {
    keyhouse = await TestApp.start();
    await keyhouse.app.listen({ port: 0, host: '127.0.0.1' });
    const scope = await keyhouse.post('/v1/scopes', { name: 'orders:read', description: 'Read orders' });
    expect([201, 409]).toContain(scope.status);
    const service = await makeClient(keyhouse);
    const serviceKey = await makeKey(keyhouse, service.id, { scopes: ['admin:introspect'] });
    const client = await makeClient(keyhouse);
    caller = {
      clientId: client.id,
      key: (await makeKey(keyhouse, client.id, { scopes: ['orders:read'] })).key,
      other: (await makeKey(keyhouse, client.id)).key,
    };
    env = { KEYHOUSE_URL: await keyhouse.app.getUrl(), KEYHOUSE_KEY: serviceKey.key };
    mkdirSync(WORK, { recursive: true });
    // Every server an example starts, to close it afterwards.
    Server.prototype.listen = function (this: Server, ...args: unknown[]) {
      servers.push(this);
      return (listen as (...a: unknown[]) => Server).apply(this, args);
    } as typeof listen;
  });
  afterAll(async () => {
    Server.prototype.listen = listen;
    for (const server of servers) {
      if (server instanceof HttpServer) server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
    }
    rmSync(WORK, { recursive: true, force: true });
    await keyhouse?.close();
  });

  it('should have an example for each framework', () => {
    expect(examples.map((e) => e.framework)).toEqual(['Express', 'Fastify', 'NestJS', 'Hono']);
    for (const { code } of examples) expect(code.trim().split('\n').length).toBeLessThanOrEqual(16);
  });

  it.each(examples.map((e) => [e.framework, e.code]))(
    'should run the %s example as written',
    async (framework, code) => {
      const port = await freePort();
      const file = join(WORK, `${framework.toLowerCase()}.ts`);
      writeFileSync(file, code);
      Object.assign(process.env, env, { PORT: String(port) });
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the example is loaded as the module it is
        require(file);
      });
      const url = `http://127.0.0.1:${port}/orders`;
      const ask = (headers: Record<string, string> = {}) =>
        fetch(url, { headers }).then(async (res) => ({ status: res.status, body: await res.json().catch(() => null) }));
      await until(
        () =>
          ask().then(
            (res) => res.status === 401,
            () => false,
          ),
        20_000,
        `the ${framework} example listens on ${port}`,
      );
      await expect(ask({ authorization: `Bearer ${caller.key}` })).resolves.toEqual({
        status: 200,
        body: { client: caller.clientId, orders: [] },
      });
      await expect(ask({ 'x-api-key': caller.other })).resolves.toMatchObject({ status: 403 });
      await expect(ask()).resolves.toMatchObject({ status: 401 });
    },
  );
});
