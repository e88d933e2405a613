import { createServer, type Server } from 'node:net';
import { listen, type Listening } from '../../src/app';
import { TestApp } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * The two listeners for real, over TCP: the public one (HOST:PORT) with the API, the
 * docs and health; the management one (MANAGEMENT_HOST:MANAGEMENT_PORT) with /metrics
 * and health, and nothing else.
 */
describe('listeners', () => {
  const app = useTestApp();
  let where: Listening;
  beforeAll(async () => {
    where = await listen(app.app, { ...app.env, HOST: '127.0.0.1', PORT: 0, MANAGEMENT_PORT: 0 });
  });

  /** The status, the body read to its end: an unread body keeps its connection busy, and the server's close waits for it. */
  const status = async (url: string) => {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  };

  it('should open a management listener of its own, on loopback by default', () => {
    expect(app.env.MANAGEMENT_HOST).toBe('127.0.0.1');
    expect(where.managementUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(where.managementUrl).not.toBe(where.url);
  });

  it('should serve /metrics on the management listener only', async () => {
    const res = await fetch(`${where.managementUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('keyhouse_build_info{');
    expect(await status(`${where.url}/metrics`)).toBe(404);
  });

  it('should serve the API and the docs on the public listener only, and health on both', async () => {
    expect(await status(`${where.url}/docs-json`)).toBe(200);
    expect(await status(`${where.url}/docs`)).toBe(200);
    expect(await status(`${where.managementUrl}/docs-json`)).toBe(404);
    expect(await status(`${where.managementUrl}/docs`)).toBe(404);
    expect(await status(`${where.url}/v1/clients`)).toBe(401);
    expect(await status(`${where.managementUrl}/v1/clients`)).toBe(404);
    const introspect = await fetch(`${where.managementUrl}/v1/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${app.rootKey}` },
      body: JSON.stringify({ token: app.rootKey }),
    });
    expect(introspect.status).toBe(404);
    await introspect.arrayBuffer();
    for (const base of [where.url, where.managementUrl!])
      for (const path of ['/health', '/health/live', '/health/ready']) expect(await status(`${base}${path}`)).toBe(200);
  });

  it('should refuse to start when the management port is taken, naming the variable', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const other = await TestApp.start();
    try {
      await expect(
        listen(other.app, {
          ...other.env,
          HOST: '127.0.0.1',
          PORT: 0,
          MANAGEMENT_HOST: '127.0.0.1',
          MANAGEMENT_PORT: port,
        }),
      ).rejects.toThrow(new RegExp(`^MANAGEMENT_PORT: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
    } finally {
      await other.close();
      taken.close();
    }
  });
});

describe('listeners: docs off', () => {
  const app = useTestApp({ DOCS_ENABLED: false });

  it('should serve neither /docs nor /docs-json, and the API all the same', async () => {
    for (const path of ['/docs', '/docs-json'])
      expect((await app.get(path, { key: null, skipOpenApiValidation: 'a route that is not there' })).status).toBe(404);
    expect((await app.get('/v1/clients')).status).toBe(200);
  });
});
