import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeClient, makeKey, makeScope, unique } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

/** docs/hot-path.md promises commands and a gateway configuration that work as written. */
const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'hot-path.md'), 'utf8');

function installed(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const curl = installed('curl', ['--version']);
const nginx = installed('nginx', ['-v']);

describe('docs/hot-path.md', () => {
  let url: string;
  const app = useTestApp({ TRUSTED_PROXIES: '127.0.0.1' });
  beforeAll(async () => {
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    url = await app.app.getUrl();
  });

  (curl ? it : it.skip)(
    `should run the curl walk-through as written${curl ? '' : ' (skipped: curl is not installed)'}`,
    async () => {
      const section =
        /<!-- hot-path-walkthrough:start -->([\s\S]*?)<!-- hot-path-walkthrough:end -->/.exec(doc)?.[1] ?? '';
      const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
      expect(blocks).toHaveLength(4);
      // Scope names of its own: suites may share a database.
      const stem = unique('docs').replace('-', '');
      const script = blocks
        .join('\n')
        .replaceAll('http://localhost:8080', url.replace('[::1]', '127.0.0.1'))
        .replaceAll('orders:', `${stem}:`);
      const cwd = mkdtempSync(join(tmpdir(), 'keyhouse-hot-path-'));
      try {
        const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
          cwd,
          env: { ...process.env, ROOT_KEY: app.rootKey },
        });
        const [introspected, refused] = stdout.split('\n').filter((line) => line.startsWith('{"active"'));
        expect(JSON.parse(introspected)).toMatchObject({
          active: true,
          scope: `${stem}:read`,
          token_type: 'api_key',
          key_name: 'checkout',
          rate_limit: { limit: 100, remaining: 99 },
        });
        expect(JSON.parse(refused)).toEqual({ active: false, reason: 'insufficient_scope' });
        expect(stdout).toMatch(/^HTTP\/1\.1 204 No Content/m);
        expect(stdout).toMatch(/^x-scopes: \w+:read\r?$/m);
        expect(stdout).toMatch(/^x-ratelimit-remaining: 98\r?$/m);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  );

  describe(`the nginx auth_request configuration${nginx ? '' : ' (skipped: nginx is not installed)'}`, () => {
    let upstream: Server;
    let nginxPort: number;
    let stop: () => Promise<void>;
    const dir = mkdtempSync(join(tmpdir(), 'keyhouse-nginx-'));

    beforeAll(async () => {
      if (!nginx) return;
      // The service behind nginx: says what nginx forwarded to it.
      upstream = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            client: req.headers['x-client-id'] ?? null,
            key: req.headers['x-key-id'] ?? null,
            scopes: req.headers['x-scopes'] ?? null,
            authorization: req.headers.authorization ?? null,
            api_key: req.headers['x-api-key'] ?? null,
          }),
        );
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const upstreamPort = (upstream.address() as { port: number }).port;
      nginxPort = await freePort();
      const block = /```nginx\n([\s\S]*?)```/.exec(doc)![1];
      const server = block
        .replace('keyhouse.internal:8080', new URL(url).host.replace('[::1]', '127.0.0.1'))
        .replace('orders.internal:3000', `127.0.0.1:${upstreamPort}`)
        .replace('listen 80;', `listen 127.0.0.1:${nginxPort};`);
      for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
      const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t, i) => `${t}_temp_path ${join(dir, ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'][i])};`)
        .join(' ');
      writeFileSync(
        join(dir, 'nginx.conf'),
        `daemon off; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')};\n` +
          `events { worker_connections 64; }\nhttp { access_log off; ${temp}\n${server}\n}\n`,
      );
      const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
      stop = () =>
        new Promise((resolve) =>
          child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
        );
      await waitFor(() =>
        fetch(`http://127.0.0.1:${nginxPort}/orders/`).then(
          () => true,
          () => false,
        ),
      );
    });
    afterAll(async () => {
      if (!nginx) return;
      await stop();
      await new Promise((resolve) => upstream.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    const through = (headers: Record<string, string> = {}, method = 'GET') =>
      fetch(`http://127.0.0.1:${nginxPort}/orders/42`, { method, headers });

    (nginx ? it : it.skip)(
      'should let a good key through to the service with its identity, for any method',
      async () => {
        const client = await makeClient(app);
        await makeScope(app, 'orders:read').catch(() => undefined);
        const key = await makeKey(app, client.id, { scopes: ['orders:read'] });
        const res = await through({ authorization: `Bearer ${key.key}` });
        expect(res.status).toBe(200);
        // The key itself never reaches the service, whichever header carried it.
        const seen = { client: client.id, key: key.id, scopes: 'orders:read', authorization: null, api_key: null };
        expect(await res.json()).toEqual(seen);
        const posted = await through({ 'x-api-key': key.key }, 'POST');
        expect(posted.status).toBe(200);
        expect(await posted.json()).toEqual(seen);
      },
    );

    (nginx ? it : it.skip)(
      'should pass 401 and 403 with WWW-Authenticate, and 429 with Retry-After and the rate-limit headers',
      async () => {
        const client = await makeClient(app);
        await makeScope(app, 'orders:read').catch(() => undefined);
        const none = await through();
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toBe('Bearer realm="keyhouse"');
        const unscoped = await makeKey(app, client.id);
        const refused = await through({ authorization: `Bearer ${unscoped.key}` });
        expect(refused.status).toBe(403);
        expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="keyhouse", error="insufficient_scope"');
        const limited = await makeKey(app, client.id, {
          scopes: ['orders:read'],
          rate_limit: { limit: 1, window_seconds: 60 },
        });
        const admitted = await through({ authorization: `Bearer ${limited.key}` });
        expect(admitted.status).toBe(200);
        expect(admitted.headers.get('x-ratelimit-limit')).toBe('1');
        expect(admitted.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(Number(admitted.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
        const over = await through({ authorization: `Bearer ${limited.key}` });
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(over.headers.get('x-ratelimit-limit')).toBe('1');
        expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(Number(over.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
      },
    );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(ready: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}
