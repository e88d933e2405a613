import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { checkResponse, recordTally } from '../support/openapi-validation';
import { unique } from '../support/factories';
import { buildService, Service } from '../support/service-process';
import { usingPostgres } from '../support/test-app';

/** Introspections answered before the SIGTERM. */
const SIGNAL_AFTER = 800;

/**
 * The production build in a process of its own, stopped with SIGTERM under load, as an
 * orchestrator stops it: calls under way finish and are counted, later ones are refused
 * (503 problem, or no connection), the last usage counts are written, the database pool
 * closes and the process exits 0. Started again on the same data, it reports every count.
 */
interface Answer {
  status: number;
  body: any;
  headers: Record<string, string>;
  raw: string;
}

/** Connection-level failure: refused, reset, or closed before an answer. */
class NoAnswer extends Error {}

async function call(service: Service, method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
  };
  return exchange(service, method, path, headers, body);
}

async function exchange(
  service: Service,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  let res: Response;
  let raw: string;
  try {
    res = await fetch(`${service.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    raw = await res.text();
  } catch (err) {
    throw new NoAnswer(String((err as Error).cause ?? err));
  }
  const answer = {
    status: res.status,
    raw,
    body: raw && res.headers.get('content-type')?.includes('json') ? JSON.parse(raw) : raw,
    headers: Object.fromEntries(res.headers),
  };
  checkResponse({ method, url: path, requestHeaders: headers, ...answer });
  return answer;
}

describe(`graceful shutdown of the built service (${usingPostgres ? 'PostgreSQL' : 'embedded database in a folder'})`, () => {
  let work: string;
  let main: string;
  let build: string;
  let service: Service | null = null;
  const rootKey = process.env.KEYHOUSE_TEST_ROOT_KEY!;
  const applicationName = `keyhouse-shutdown-${randomUUID().slice(0, 8)}`;
  let env: Record<string, string>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyhouse-shutdown-'));
    ({ folder: build, main } = await buildService('shutdown'));
    env = {
      NODE_ENV: 'production',
      BOOTSTRAP_ROOT_KEY: rootKey,
      USAGE_FLUSH_INTERVAL_MS: '3600000', // only the shutdown writes the counts
      ...(usingPostgres
        ? {
            DATABASE_URL: withApplicationName(process.env.DATABASE_URL!, applicationName),
            KEY_HASH_SECRET: process.env.KEYHOUSE_TEST_HASH_SECRET!,
            ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
          }
        : { DATA_DIR: join(work, 'data') }),
    };
  }, 150_000);
  afterAll(async () => {
    await service?.kill();
    recordTally();
    rmSync(work, { recursive: true, force: true });
    if (build) rmSync(build, { recursive: true, force: true });
  });

  it('should finish the calls under way, refuse later ones with a 503 problem (admin API included), write every count, close the pool and exit 0', async () => {
    service = await Service.start(main, work, env);
    const client = await call(service, 'POST', '/v1/clients', rootKey, { name: unique('shutdown') });
    const caller = await call(service, 'POST', `/v1/clients/${client.body.id}/keys`, rootKey, {
      environment: 'live',
      name: 'caller',
      scopes: ['admin:introspect'],
    });
    const good = await call(service, 'POST', `/v1/clients/${client.body.id}/keys`, rootKey, {
      environment: 'live',
      name: 'good',
    });
    const revoked = await call(service, 'POST', `/v1/clients/${client.body.id}/keys`, rootKey, {
      environment: 'live',
      name: 'revoked',
    });
    await call(service, 'POST', `/v1/keys/${revoked.body.id}/revoke`, rootKey, {});
    if (usingPostgres) expect(await connectionsNamed(applicationName)).toBeGreaterThan(0);

    const tally: Record<string, Record<string, number>> = { [good.body.id]: {}, [revoked.body.id]: {} };
    const refusals: string[] = [];
    const errorsBeforeSignal: string[] = [];
    let ok = 0;
    let adminOk = 0;
    let signalled = false;
    const running = service;
    /** Sends until refused: a 503 problem once the signal is sent, or no connection once nobody listens. */
    const loop = async (
      n: number,
      send: (i: number) => Promise<Answer>,
      onAnswer: (i: number, answer: Answer) => void,
      bodyless = false,
    ) => {
      for (let i = 0; ; i++) {
        let answer: Answer;
        try {
          answer = await send(i);
        } catch (err) {
          if (!(err instanceof NoAnswer)) throw err;
          if (!signalled) errorsBeforeSignal.push(err.message);
          else refusals.push(`no connection (${err.message.replace(/\d+/g, 'N')})`);
          return;
        }
        if (answer.status === 503 && signalled) {
          expect(answer.headers['retry-after']).toBe('1');
          // Whether the gate or the closing server refused it: the next call goes elsewhere.
          expect(answer.headers.connection).toBe('close');
          if (bodyless) {
            expect(answer.raw).toBe('');
            refusals.push('503'); // forward auth answers without a body, refusals included
            return;
          }
          expect(answer.headers['content-type']).toContain('application/problem+json');
          expect(answer.body).toMatchObject({ status: 503, type: 'urn:keyhouse:problem:service-unavailable' });
          refusals.push('503 problem');
          return;
        }
        onAnswer(n + i, answer);
      }
    };
    const target = (i: number) => (i % 2 === 0 ? good : revoked);
    const introspecting = (n: number) =>
      loop(
        n,
        (i) => call(running, 'POST', '/v1/introspect', caller.body.key, { token: target(n + i).body.key }),
        (i, answer) => {
          expect(answer.status).toBe(200);
          const outcome = answer.body.active ? 'valid' : answer.body.reason;
          const id = target(i).body.id;
          tally[id][outcome] = (tally[id][outcome] ?? 0) + 1;
          if (++ok === SIGNAL_AFTER && !signalled) {
            signalled = true;
            running.terminate();
          }
        },
      );
    // The admin API is under way too: its answers end the same way.
    const administering = (n: number) =>
      loop(
        n,
        () => call(running, 'GET', '/v1/clients?limit=1', rootKey),
        (_, answer) => {
          expect(answer.status).toBe(200);
          adminOk++;
        },
      );
    // And forward auth, whose answers have no body.
    let authorized = 0;
    const forwardAuth = () => exchange(running, 'GET', '/v1/authorize', { authorization: `Bearer ${good.body.key}` });
    const authorizing = (n: number) =>
      loop(
        n,
        forwardAuth,
        (_, answer) => {
          expect(answer.status).toBe(204);
          authorized++;
          tally[good.body.id].valid = (tally[good.body.id].valid ?? 0) + 1;
        },
        true,
      );
    await Promise.all([
      ...Array.from({ length: 12 }, (_, n) => introspecting(n)),
      ...Array.from({ length: 4 }, (_, n) => administering(n)),
      ...Array.from({ length: 4 }, (_, n) => authorizing(n)),
    ]);
    const { code, signal } = await running.exited;
    expect({ code, signal, errorsBeforeSignal }).toEqual({ code: 0, signal: null, errorsBeforeSignal: [] });
    expect(ok).toBeGreaterThanOrEqual(SIGNAL_AFTER);
    expect(adminOk).toBeGreaterThan(0);
    expect(refusals).toHaveLength(20);
    expect(authorized).toBeGreaterThan(0);
    // A request sent on an open connection gets an answer (a 503 problem, and the connection
    // closed); only a new connection finds nobody listening. Never a reset.
    expect(refusals.filter((r) => !['503 problem', '503'].includes(r) && !r.includes('ECONNREFUSED'))).toEqual([]);
    expect(running.log).toMatch(/"msg":"Keyhouse listening/);
    expect(running.log).not.toMatch(/"level":"(error|fatal)"/);
    // Refusing calls while stopping is no database trouble, and the log should not cry wolf.
    expect(running.log).not.toContain('database unavailable');
    if (usingPostgres) expect(await connectionsNamed(applicationName)).toBe(0);
    process.stdout.write(
      `SIGTERM after ${SIGNAL_AFTER} introspections: ${ok} answered 200 in all, and ${adminOk} admin calls; the 20 loops ended with ${JSON.stringify(count(refusals))}\n`,
    );

    // Started again on the same data: every answer given was counted, nothing more.
    service = await Service.start(main, work, env);
    for (const key of [good, revoked]) {
      const usage = await call(service, 'GET', `/v1/keys/${key.body.id}/usage`, rootKey);
      const answered = tally[key.body.id];
      expect(usage.body.totals).toEqual({
        total: Object.values(answered).reduce((a, b) => a + b, 0),
        outcomes: answered,
      });
    }
    service.terminate();
    expect(await service.exited).toEqual({ code: 0, signal: null });
    service = null;
  });
});

function count(items: string[]): Record<string, number> {
  return items.reduce<Record<string, number>>((t, x) => ({ ...t, [x]: (t[x] ?? 0) + 1 }), {});
}

function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

async function connectionsNamed(name: string): Promise<number> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      name,
    ]);
    return rows[0].n;
  } finally {
    await client.end();
  }
}
