import type { ClientsRepository } from '../store/clients.repository';
import type { KeysRepository } from '../store/keys.repository';
import type { FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../auth/actor';
import { Metrics } from '../metrics/metrics';
import type { AuditEntry, AuditLog } from './audit-log';
import { DeniedAttempts } from './denied-attempts';

/** Keys `a0`, `a1`, ... are of client `a`; `a`, `b`, `k7` each of their own. */
const clientOf = (keyId: string) => (/^a[0-9]+$/.test(keyId) ? 'a' : keyId);

/** A forbidden request of key `keyId`, as the onResponse hook sees it. */
function forbidden(keyId: string, n: number): FastifyRequest {
  return {
    actor: { keyId, clientId: `client-${clientOf(keyId)}`, isSystem: false, scopes: ['orders:read'] },
    id: `req-${keyId}-${n}`,
    ip: '203.0.113.7',
    method: 'POST',
    routeOptions: { url: '/v1/clients' },
    params: {},
    requiredScopes: ['admin:clients:write'],
  } as unknown as FastifyRequest;
}

/** A 404 of key `keyId` on the n-th key of another client. */
function probing(keyId: string, n: number): FastifyRequest {
  const request = forbidden(keyId, n) as unknown as {
    routeOptions: { url: string };
    params: Record<string, string>;
    method: string;
  };
  request.method = 'GET';
  request.routeOptions.url = '/v1/keys/:id';
  request.params = { id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` };
  return request as unknown as FastifyRequest;
}

describe(DeniedAttempts.name, () => {
  let written: { context: RequestContext; entry: AuditEntry }[];
  let gate: Promise<void>;
  let lookupGate: Promise<void>;
  let sut: DeniedAttempts;

  beforeEach(() => {
    written = [];
    gate = Promise.resolve();
    lookupGate = Promise.resolve();
    const audit = {
      append: async (_: unknown, context: RequestContext, entry: AuditEntry) => void written.push({ context, entry }),
    } as unknown as AuditLog;
    const dataSource = {
      transaction: async (work: (m: unknown) => Promise<void>) => gate.then(() => work({})),
    } as unknown as DataSource;
    // Every key a 404 was about is another client's.
    const keys = { clientIdOf: async () => lookupGate.then(() => 'client-other') } as unknown as KeysRepository;
    const clients = { exists: async () => lookupGate.then(() => true) } as unknown as ClientsRepository;
    sut = new DeniedAttempts(dataSource, audit, new Metrics(), {} as never, keys, clients);
  });
  afterEach(() => sut.settled());

  const counts = () => written.map((w) => w.entry.changes!.count as number);

  it('should fold one key’s denials of one operation into one event with their count and span', async () => {
    for (let n = 0; n < 500; n++) sut.observe(forbidden('a', n), 403);
    expect(sut.held).toBe(1);
    await sut.settled();
    expect(written).toHaveLength(1);
    expect(written[0].context).toMatchObject({ actor: { keyId: 'a' }, requestId: 'req-a-0', sourceIp: '203.0.113.7' });
    expect(written[0].entry).toMatchObject({
      action: 'access.denied',
      changes: { count: 500, reason: 'missing_scope', path: '/v1/clients' },
    });
    const { first_at, last_at } = written[0].entry.changes as { first_at: string; last_at: string };
    expect(Date.parse(first_at)).toBeLessThanOrEqual(Date.parse(last_at));
  });

  it('should name up to 10 of the targets of one operation, and the first one as the event’s', async () => {
    for (let n = 0; n < 15; n++) {
      const request = forbidden('a', n) as unknown as {
        routeOptions: { url: string };
        params: Record<string, string>;
        method: string;
      };
      request.method = 'POST';
      request.routeOptions.url = '/v1/keys/:id/revoke';
      request.params = { id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` };
      sut.observe(request as unknown as FastifyRequest, 403);
    }
    await sut.settled();
    expect(written).toHaveLength(1);
    const { entry } = written[0];
    expect(entry).toMatchObject({
      targetType: 'key',
      targetId: '00000000-0000-4000-8000-000000000000',
      changes: { count: 15 },
    });
    expect(entry.changes!.targets).toHaveLength(10);
  });

  it('should keep distinct actors apart', async () => {
    for (let n = 0; n < 30; n++) sut.observe(forbidden(n % 3 === 0 ? 'a' : 'b', n), 403);
    await sut.settled();
    const byActor = Object.fromEntries(written.map((w) => [w.context.actor!.keyId, w.entry.changes!.count]));
    expect(byActor).toEqual({ a: 10, b: 20 });
  });

  it('should write a window when it ends', async () => {
    sut.limits.windowMs = 20;
    sut.observe(forbidden('a', 0), 403);
    for (const until = Date.now() + 5000; written.length === 0 && Date.now() < until;)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(counts()).toEqual([1]);
  });

  it('should hold at most maxGroups, write early at the cap, and count one overflow while a batch is being written', async () => {
    sut.limits.maxGroups = 3;
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const actors = Array.from({ length: 50 }, (_, i) => `k${i}`);
    let most = 0;
    actors.forEach((keyId, n) => {
      sut.observe(forbidden(keyId, n), 403);
      most = Math.max(most, sut.held);
    });
    // k0-k2 filled the cap; k3 sent them to be written (held by the gate) and k3-k5 refilled it; k6-k49 overflowed.
    expect(most).toBe(3);
    open();
    await sut.settled();
    expect(written.map((w) => w.context.actor?.keyId ?? null)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', null]);
    expect(written[6].entry).toMatchObject({ targetType: 'system', changes: { reason: 'overflow', count: 44 } });
    expect(counts().reduce((a, b) => a + b)).toBe(actors.length);
  });

  it.each([
    ['many keys of one client, one operation each', (n: number) => forbidden(`a${n}`, n)],
    ['one key, many targets it may not see', (n: number) => probing('a0', n)],
  ])(
    'should keep %s from filling the cap, so another client’s denial is still written with its actor',
    async (_, denial) => {
      sut.limits.maxGroups = 10;
      sut.limits.maxGroupsPerClient = 3;
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      const flood = 40;
      const status = denial(0).routeOptions.url === '/v1/keys/:id' ? 404 : 403;
      for (let n = 0; n < flood; n++) sut.observe(denial(n), status);
      await sut['lookups'];
      sut.observe(forbidden('b', 0), 403);
      open();
      await sut.settled();
      const ofA = written.filter((w) => w.context.actor!.clientId === 'client-a');
      expect(written.filter((w) => w.context.actor === null)).toEqual([]);
      expect(written.filter((w) => w.context.actor?.keyId === 'b').map((w) => w.entry.changes!.count)).toEqual([1]);
      // Client a wrote its cap and one event for the rest, naming it: its flood is not hidden.
      expect(ofA.length).toBeLessThanOrEqual(4);
      expect(ofA.at(-1)!.entry).toMatchObject({ changes: { reason: 'client_overflow', count: flood - 3 } });
      expect(ofA.map((w) => w.entry.changes!.count as number).reduce((x, y) => x + y)).toBe(flood);
    },
  );

  it('should still write, with their actor, the 404s past the lookups it can wait for, so a flood of them hides no probe', async () => {
    sut.limits.maxLookups = 2;
    let open!: () => void;
    lookupGate = new Promise((resolve) => (open = resolve));
    for (let n = 0; n < 30; n++) sut.observe(probing('a', n), 404);
    open();
    await sut.settled();
    expect(written.filter((w) => w.context.actor === null)).toEqual([]);
    const byReason = Object.fromEntries(written.map((w) => [w.entry.changes!.reason, 0]));
    for (const w of written) byReason[w.entry.changes!.reason as string] += w.entry.changes!.count as number;
    expect(byReason).toEqual({ other_client: 2, unchecked: 28 });
    const unchecked = written.find((w) => w.entry.changes!.reason === 'unchecked')!;
    expect(unchecked.context.actor!.keyId).toBe('a');
    expect(unchecked.entry.changes!.targets).toHaveLength(10);
    expect(written).toHaveLength(3);
  });

  it('should write what it holds on shutdown', async () => {
    sut.observe(forbidden('a', 0), 403);
    sut.observe(forbidden('a', 1), 403);
    await sut.beforeApplicationShutdown();
    expect(counts()).toEqual([2]);
  });
});
