import { DataSource } from 'typeorm';
import { ClientsService } from '../../src/clients/clients.service';
import { generateKey } from '../../src/credentials/key-format';
import { allPages, makeClient, makeKey, makeScope } from '../support/factories';
import { Reply, TestApp } from '../support/test-app';

/**
 * Runs a workload that touches every way a key travels (issue, rotate, revoke, introspect
 * good, bad and mutated keys as JSON and forms, forward auth, rate limits, the failed
 * authentication throttle, leak reports, bad requests with keys where they do not
 * belong, an unexpected error whose message holds a key), with the app logging at
 * trace into a captured stream and standard output and error captured too. Then every
 * log line, every response body and header, every audit event (through the API and
 * from the database) and every stored row is searched for each secret: whole, without
 * its prefix, and as any 12 characters of its body in a row.
 */
describe('secrets never leak', () => {
  let app: TestApp;
  const logLines: string[] = [];
  const consoleOutput: string[] = [];
  const responses: string[] = [];
  const secrets: string[] = [];

  /** Every answer of the workload is kept, body and headers. */
  const keep = (res: Reply): Reply => {
    responses.push(`${res.status} ${JSON.stringify(res.headers)}\n${res.raw}`);
    return res;
  };
  const fresh = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

  beforeAll(async () => {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      jest.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
        consoleOutput.push(String(chunk));
        // Jest's own reporting goes through here too: let it by, unless it looks like a key.
        return /sk_(live|test)_/i.test(String(chunk))
          ? true
          : (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      });
    }
    app = await TestApp.start(
      { LOG_LEVEL: 'trace', AUTH_FAILURE_LIMIT: 3, TRUSTED_PROXIES: '127.0.0.1' },
      { logDestination: { write: (line: string) => void logLines.push(line) } },
    );
    secrets.push(app.rootKey);
    await runWorkload();
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  async function runWorkload(): Promise<void> {
    const scope = await makeScope(app);
    const client = await makeClient(app, { metadata: { team: 'payments' } });
    const live = await makeKey(app, client.id, {
      scopes: [scope.name],
      rate_limit: { limit: 2, window_seconds: 60 },
      metadata: { purpose: 'leak test' },
    });
    const test = await makeKey(app, client.id, { environment: 'test', usage_limit: 1 });
    const fenced = await makeKey(app, client.id, { ip_allowlist: ['10.0.0.0/8'] });
    const introspector = await makeKey(app, client.id, { scopes: ['admin:introspect'] });
    secrets.push(live.key, test.key, fenced.key, introspector.key);

    keep(await app.get(`/v1/keys/${live.id}`));
    keep(await app.get(`/v1/keys?client_id=${client.id}`));
    keep(await app.patch(`/v1/keys/${live.id}`, { name: 'renamed', metadata: { purpose: 'still a test' } }));
    const successor = keep(await app.post(`/v1/keys/${fenced.id}/rotate`, { grace_period_seconds: 60 }));
    secrets.push(successor.body.key);
    keep(await app.post(`/v1/keys/${fenced.id}/rotate`, { grace_period_seconds: 60 }));
    keep(await app.post(`/v1/keys/${fenced.id}/revoke`, { reason: 'rotated out' }));
    keep(await app.post(`/v1/keys/${fenced.id}/revoke`, { reason: 'again' }));

    // Introspection: good, bad, mutated, revoked, out of scope, from the wrong address, over the limits; JSON and forms.
    const mutated = `${live.key.slice(0, -1)}${live.key.endsWith('a') ? 'b' : 'a'}`;
    for (const token of [
      live.key,
      test.key,
      test.key,
      fenced.key,
      successor.body.key,
      mutated,
      live.key.toUpperCase(),
      live.key.slice(8),
      generateKey('live'),
      'sk_live_nope',
    ]) {
      keep(await app.post('/v1/introspect', { token, scope: scope.name }, { key: introspector.key }));
      keep(
        await app.call('POST', '/v1/introspect', {
          key: introspector.key,
          form: { token, scope: 'admin:keys:write', client_ip: '192.0.2.1' },
        }),
      );
    }
    keep(await app.post('/v1/introspect', { token: live.key }));
    keep(await app.post('/v1/introspect', { token: live.key, client_ip: live.key }, { key: introspector.key }));
    keep(await app.post('/v1/introspect', { token: { key: live.key } }, { key: introspector.key }));
    keep(await app.post('/v1/introspect', { token: live.key }, { key: mutated }));

    // Forward auth: good, both headers, bad, revoked, rate-limited, throttled.
    for (const key of [live.key, live.key, live.key, successor.body.key, fenced.key, mutated]) {
      keep(await app.get('/v1/authorize', { key, headers: { 'x-required-scopes': scope.name } }));
      keep(await app.get('/v1/authorize', { key: null, headers: { 'x-api-key': key } }));
    }
    const throttledFrom = fresh();
    for (let i = 0; i < 5; i++)
      keep(await app.get('/v1/authorize', { key: mutated, headers: { 'x-forwarded-for': throttledFrom } }));
    for (let i = 0; i < 5; i++)
      keep(await app.get('/v1/keys', { key: `${app.rootKey}x`, headers: { 'x-forwarded-for': throttledFrom } }));

    // Keys where they do not belong.
    const misplaced = 'a key where no key belongs';
    keep(await app.get(`/v1/keys/${live.key}`, { skipOpenApiValidation: misplaced }));
    keep(await app.get(`/v1/keys/${live.key}/usage`, { skipOpenApiValidation: misplaced }));
    keep(await app.get(`/v1/keys?cursor=${live.key}`));
    keep(await app.get(`/v1/audit-events?target=${live.key}`));
    keep(await app.post('/v1/clients', { name: 'x', [live.key]: true }));
    keep(await app.patch(`/v1/keys/${live.id}`, { key: live.key, digest: live.key }));
    keep(await app.post(`/v1/clients/${client.id}/keys`, { environment: 'live', name: 'n', scopes: [live.key] }));
    keep(
      await app.call('POST', '/v1/clients', {
        body: `name=${live.key}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    keep(await app.call('POST', '/v1/clients', { body: `{"name":"${live.key}`, skipOpenApiValidation: misplaced }));
    keep(
      await app.get('/v1/clients', {
        key: null,
        headers: { authorization: `Basic ${Buffer.from(`x:${live.key}`).toString('base64')}` },
      }),
    );
    keep(
      await app.get('/v1/clients', {
        key: null,
        headers: { authorization: `Bearer ${live.key}`, 'x-api-key': app.rootKey },
      }),
    );

    // An error nobody expected, whose message carries a key (as a library might echo its input).
    const list = jest
      .spyOn(app.app.get(ClientsService, { strict: false }), 'list')
      .mockRejectedValueOnce(new Error(`could not list for ${app.rootKey} and ${live.key}`));
    keep(await app.get('/v1/clients'));
    list.mockRestore();

    // A leak report revokes the key; the answer names it by its hint.
    keep(
      await app.post('/v1/keys/leaked', { key: test.key, source: 'secret scanning', url: 'https://example.com/leak' }),
    );
    keep(await app.post('/v1/keys/leaked', { key: test.key, source: 'secret scanning again' }));

    // Reading it all back: usage, the audit trail and its verification, metrics.
    keep(await app.get(`/v1/keys/${live.id}/usage`));
    keep(await app.get(`/v1/clients/${client.id}/usage`));
    keep(await app.get('/v1/audit-events/verify'));
    keep(await app.get('/metrics', { key: null, listener: 'management' }));
    const audit = await allPages(app, `/v1/audit-events?limit=200`);
    responses.push(JSON.stringify(audit.items));
    await app.app.get(DataSource).query('SELECT 1');
  }

  /** What in `texts` holds a secret, whole, without its prefix, or as 12 characters in a row of its body (reported by position, never by value). */
  function leaks(texts: string[]): string[] {
    const found: string[] = [];
    secrets.forEach((secret, s) => {
      const body = secret.slice(8);
      const pieces = [secret, body, ...Array.from({ length: body.length - 11 }, (_, i) => body.slice(i, i + 12))];
      texts.forEach((text, t) => {
        if (pieces.some((piece) => text.includes(piece)))
          found.push(
            `secret #${s} in text #${t}: ${text.slice(0, process.env.LEAK_CONTEXT ? 2000 : 80).replace(/sk_(live|test)_\w+/gi, 'sk_…')}`,
          );
      });
    });
    return found;
  }

  it('should have run the workload with every secret known and the logs captured at trace', () => {
    // Never the secrets themselves in a failure message: their count.
    expect(new Set(secrets.filter((s) => typeof s === 'string' && s.startsWith('sk_'))).size).toBe(6);
    expect(responses.length).toBeGreaterThan(60);
    // The capture works: the request lines, the error's stack and the throttle's debug lines are all there.
    expect(logLines.length).toBeGreaterThan(responses.length);
    expect(logLines.some((l) => l.includes('"msg":"unhandled error"') && l.includes('"stack"'))).toBe(true);
    expect(logLines.some((l) => l.includes('"url":"/v1/introspect"'))).toBe(true);
    expect(responses.some((r) => r.startsWith('429 '))).toBe(true);
  });

  it('should find no secret in any log line', () => {
    expect(leaks(logLines)).toEqual([]);
  });

  it('should find no secret on standard output or error', () => {
    expect(leaks(consoleOutput)).toEqual([]);
  });

  it('should find no secret in any response other than the two that created a key', () => {
    // Issue and rotate are the only answers with `key`; the workload kept only the rotation's, and drops that one here.
    const others = responses.filter((r) => !(r.startsWith('201 ') && r.includes('"key":"sk_')));
    expect(others.length).toBe(responses.length - 1);
    expect(leaks(others)).toEqual([]);
  });

  it('should find no secret in any audit event or stored row', async () => {
    const dataSource = app.app.get(DataSource);
    const rows: string[] = [];
    for (const table of ['audit_events', 'api_keys', 'clients', 'key_scopes', 'scopes', 'usage_buckets']) {
      for (const row of await dataSource.query(`SELECT * FROM ${table}`))
        rows.push(
          `${table}: ${JSON.stringify(row, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`,
        );
    }
    expect(rows.filter((r) => r.startsWith('audit_events')).length).toBeGreaterThan(10);
    expect(leaks(rows)).toEqual([]);
  });
});
