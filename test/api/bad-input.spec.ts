import fc from 'fast-check';
import { generateKey } from '../../src/credentials/key-format';
import {
  Answer,
  auditEventsOfRequests,
  badBody,
  badCursor,
  badDate,
  badIntegerText,
  badString,
  changes,
  edgeDate,
  FOREIGN_FIELDS,
  namesField,
  Operation,
  operations,
  percentEncode,
  problemsWith,
  SECRET_PLACEHOLDERS,
  snapshot,
  withSecrets,
} from '../support/bad-input';
import { makeClient, makeKey, makeScope } from '../support/factories';
import { payloadOf, usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * Every operation of openapi/openapi.json (listed from the document, so a new endpoint is
 * covered without being named here) gets generated requests that no client should send:
 * wrong types, foreign and look-alike fields, huge strings, deep JSON, invalid UTF-8, NUL
 * bytes, secrets where they do not belong, junk in the path and the query, bad
 * credentials, the wrong content type. Every answer: no 5xx, no stack trace, problem+json
 * for every 4xx, documented in the OpenAPI document, no secret; and no request that
 * would change something is accepted, and the stored data is as it was.
 */
const RUNS = Number(process.env.BAD_INPUT_RUNS ?? 40);
const REQUEST_ID_PREFIX = `bad-input-${Date.now().toString(36)}-`;
const NOWHERE = '6f1c1e9e-3b0a-4f57-9d36-0d1f0e0b7a11';

/** Operations that may answer a 2xx to what they take: introspection, and a leak report of a string that is no key (`matched: false`). */
const ANSWERS_ANYTHING = new Set(['/v1/introspect', '/v1/authorize', '/v1/keys/leaked']);
const isMutating = (op: Operation) => op.method !== 'GET' && !ANSWERS_ANYTHING.has(op.template);

interface Fixtures {
  clientId: string;
  keyId: string;
  scope: string;
  issuedKey: string;
  /** A real `next_cursor` of each list, by path template: what the cursor generator spoils. */
  cursors: Record<string, string>;
}

/** A body each operation would accept, to be spoiled by one change. */
function validBody(op: Operation, f: Fixtures): Record<string, unknown> {
  const bodies: Record<string, Record<string, unknown>> = {
    createClient: { name: 'fuzz client' },
    updateClient: { description: 'fuzzed' },
    issueKey: { environment: 'live', name: 'fuzz key', scopes: [f.scope] },
    updateKey: { name: 'renamed' },
    rotateKey: { grace_period_seconds: 60 },
    revokeKey: { reason: 'fuzzed' },
    createScope: { name: 'fuzz:read', description: 'fuzz' },
    reportLeakedKey: { key: generateKey('live'), source: 'fuzz' },
    introspectKey: { token: '@ISSUED_KEY@' },
  };
  return bodies[op.operationId] ?? {};
}

type Flaw = 'body' | 'path' | 'query' | 'auth' | 'content-type' | 'cursor' | 'date' | 'edge date' | 'integer';

interface BadRequest {
  flaw: string;
  path: Record<string, string>;
  query: string;
  authorization: Record<string, string>;
  contentType: string | null;
  /** The body's text; INVALID_UTF8 stands for bytes that are not UTF-8. */
  body: string | null;
  /** The field the request spoils: a 400 must name it (or one of `or`); `refused` when nothing but a 400 will do. */
  field?: { name: string; refused: boolean; or?: string[] };
}

const badPathValue = fc.oneof(
  fc.constantFrom(
    'not-a-uuid',
    NOWHERE,
    `${NOWHERE}x`,
    '%00',
    '%ZZ',
    '%C3%28',
    '..%2F..%2Fhealth',
    'a'.repeat(300),
    '@ISSUED_KEY@',
    '@ROOT_KEY_BODY@',
    encodeURIComponent('оrders:read'),
    '%E2%80%8B',
    '%20',
    'orders:read%00',
  ),
  fc.string({ minLength: 1, maxLength: 30, unit: 'binary' }).map(percentEncode),
);

const badAuthorization = fc.constantFrom<Record<string, string>>(
  {},
  { authorization: 'Bearer' },
  { authorization: 'Bearer sk_live_nope' },
  { authorization: 'Bearer @ROOT_KEY_BODY@' },
  { authorization: `Bearer ${generateKey('live')}` },
  { authorization: 'Basic Zm9vOmJhcg==' },
  { authorization: 'Bearer @ROOT_KEY@x' },
  { authorization: 'Bearer SK_LIVE_@ROOT_KEY_BODY@' },
  { 'x-api-key': 'sk_test_@ROOT_KEY_BODY@' },
  { 'x-api-key': '@ROOT_KEY@, @ROOT_KEY@' },
  { authorization: `Bearer ${'x'.repeat(10_000)}` },
);

function badQuery(op: Operation): fc.Arbitrary<string> {
  const names = [...op.queryParams, ...FOREIGN_FIELDS.slice(0, 12)];
  const pair = fc
    .tuple(fc.constantFrom(...names), badString)
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`);
  const raw = fc.constantFrom(
    'limit=%ZZ',
    'limit=1&limit=2',
    'cursor=%C3%28',
    'limit[$gt]=1',
    'a[b][c]=1',
    'status=active%00',
    'from=2020-01-01',
    'limit=1e309',
    'x='.concat('y'.repeat(5000)),
  );
  return fc.array(fc.oneof(pair, raw), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('&'));
}

function badRequest(op: Operation, f: Fixtures): fc.Arbitrary<BadRequest> {
  const flaws: Flaw[] = ['auth'];
  if (op.bodyProperties) flaws.push('body', 'content-type');
  if (op.pathParams.length > 0) flaws.push('path');
  if (!isMutating(op)) flaws.push('query');
  // Twice each: the classes of well-formed values that name nothing get more of the runs.
  if (op.paginated) flaws.push('cursor', 'cursor');
  if (op.dateQueryParams.length > 0 || op.dateBodyProperties.length > 0) flaws.push('date', 'date');
  if (op.dateQueryParams.length > 0) flaws.push('edge date');
  if (op.integerQueryParams.length > 0) flaws.push('integer');
  if (op.template === '/v1/authorize') flaws.splice(flaws.indexOf('auth'), 1); // its key is the request's own: the key suite covers it
  const valid = validBody(op, f);
  const goodPath = Object.fromEntries(
    op.pathParams.map((name) => [
      name,
      name === 'name' ? f.scope : op.template.startsWith('/v1/clients') ? f.clientId : f.keyId,
    ]),
  );
  const root = { authorization: 'Bearer @ROOT_KEY@' };
  const jsonBody = op.bodyProperties ? JSON.stringify(valid) : null;
  return fc.constantFrom(...flaws).chain((flaw): fc.Arbitrary<BadRequest> => {
    const base: BadRequest = {
      flaw,
      path: goodPath,
      query: '',
      authorization: root,
      contentType: op.bodyProperties ? 'application/json' : null,
      body: jsonBody,
    };
    switch (flaw) {
      case 'auth':
        return badAuthorization.map((authorization) => ({ ...base, authorization }));
      case 'path':
        return fc
          .record(
            Object.fromEntries(op.pathParams.map((name) => [name, badPathValue])) as Record<
              string,
              fc.Arbitrary<string>
            >,
          )
          .map((path) => ({ ...base, path }));
      case 'query':
        return badQuery(op).map((query) => ({ ...base, query }));
      case 'content-type': {
        const types = [
          'text/plain',
          'application/xml',
          'application/json-patch+json',
          'multipart/form-data; boundary=x',
          'application/x-www-form-urlencoded',
        ];
        return fc
          .constantFrom(...types.filter((t) => !(op.formBody && t.startsWith('application/x-www-form'))))
          .map((contentType) => ({ ...base, contentType }));
      }
      case 'cursor':
        // Wrong-shaped cursors may happen to name a real position (a scope name for another): a 200 then, never a 500.
        return badCursor(f.cursors[op.template]).map(({ kind, cursor }) => ({
          ...base,
          flaw: `cursor: ${kind}`,
          query: `cursor=${cursor}`,
          field: { name: 'cursor', refused: false },
        }));
      case 'date': {
        const fields = [
          ...op.dateQueryParams.map((name) => ({ name, inQuery: true })),
          ...op.dateBodyProperties.map((name) => ({ name, inQuery: false })),
        ];
        return fc.tuple(fc.constantFrom(...fields), badDate).map(([{ name, inQuery }, value]) => ({
          ...base,
          flaw: `date: ${name}=${value}`,
          query: inQuery ? `${name}=${percentEncode(value)}` : '',
          body: inQuery ? base.body : JSON.stringify({ ...valid, [name]: value }),
          field: { name, refused: true },
        }));
      }
      case 'integer':
        return fc.tuple(fc.constantFrom(...op.integerQueryParams), badIntegerText).map(([name, value]) => ({
          ...base,
          flaw: `integer: ${name}=${JSON.stringify(value)}`,
          query: `${name}=${percentEncode(value)}`,
          field: { name, refused: true },
        }));
      case 'edge date':
        return fc.tuple(fc.constantFrom(...op.dateQueryParams), edgeDate).map(([name, value]) => ({
          ...base,
          flaw: `edge date: ${name}=${value}`,
          query: `${name}=${percentEncode(value)}`,
          // The other end of the range defaults: a range too long is named by `to`.
          field: { name, refused: false, or: op.dateQueryParams },
        }));
      case 'body':
        return fc.oneof(
          {
            weight: 6,
            arbitrary: badBody(valid, op.bodyProperties!).map((m) => ({
              ...base,
              flaw: `body: ${m.kind}`,
              body: m.raw ?? JSON.stringify(m.body),
            })),
          },
          {
            weight: 1,
            arbitrary: fc.constant({ ...base, flaw: 'body: invalid UTF-8', body: 'INVALID_UTF8' as const }),
          },
          {
            weight: 1,
            arbitrary: fc
              .constantFrom('', '{', '{"a":1,}', '\u0000', 'null')
              .map((body) => ({ ...base, flaw: 'body: not JSON', body })),
          },
        );
    }
  });
}

describe('bad input to every operation', () => {
  let fixtures: Fixtures;
  let secrets: Record<(typeof SECRET_PLACEHOLDERS)[number], string>;
  let before: Map<string, string>;
  let sent = 0;
  const accepted: string[] = [];

  const app = useTestApp();
  beforeAll(async () => {
    const client = await makeClient(app);
    const scope = await makeScope(app);
    const key = await makeKey(app, client.id, { scopes: [scope.name], metadata: { team: 'fuzz' } });
    const cursors: Record<string, string> = {};
    for (const op of operations().filter((o) => o.paginated)) {
      cursors[op.template] = (await app.get(`${op.template}?limit=1`)).body.next_cursor;
      expect(cursors[op.template]).toEqual(expect.any(String));
    }
    fixtures = { clientId: client.id, keyId: key.id, scope: scope.name, issuedKey: key.key, cursors };
    secrets = {
      '@ROOT_KEY@': app.rootKey,
      '@ISSUED_KEY@': key.key,
      '@ROOT_KEY_BODY@': app.rootKey.slice(8),
      '@ISSUED_KEY_BODY@': key.key.slice(8),
    };
    before = await snapshot(app, owned());
  });

  /** On a shared PostgreSQL, the rows this suite owns; on its own embedded database, all of them. */
  const owned = () => (usingPostgres ? { clientId: fixtures.clientId, scope: fixtures.scope } : undefined);

  async function send(op: Operation, request: BadRequest): Promise<string[]> {
    let url = op.template;
    for (const [name, value] of Object.entries(request.path))
      url = url.replace(`{${name}}`, withSecrets(value, secrets));
    if (request.query) url += `?${withSecrets(request.query, secrets)}`;
    const headers: Record<string, string> = { 'x-request-id': `${REQUEST_ID_PREFIX}${++sent}` };
    for (const [name, value] of Object.entries(request.authorization)) headers[name] = withSecrets(value, secrets);
    if (request.contentType) headers['content-type'] = request.contentType;
    let payload: string | Buffer | undefined;
    if (request.body === 'INVALID_UTF8')
      payload = Buffer.concat([
        Buffer.from('{"name":"a'),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        Buffer.from('b","token":"x"}'),
      ]);
    else if (request.body !== null) payload = withSecrets(request.body, secrets);
    // As a stream: a change stream (GET /v1/key-changes) that opens never ends.
    const res = await app.app.inject({ method: op.method as 'GET', url, headers, payload, payloadAsStream: true });
    const body = await payloadOf(res);
    const answer = { status: res.statusCode, headers: res.headers as Answer['headers'], raw: body };
    const wrong = problemsWith(
      answer,
      { method: op.method, url, headers },
      [app.rootKey, fixtures.issuedKey],
      op.template === '/v1/authorize',
    );
    if (request.field) {
      const { name, refused, or = [name] } = request.field;
      if (refused && res.statusCode !== 400) wrong.push(`answered ${res.statusCode} where only a 400 will do`);
      if (res.statusCode === 400 && !namesField(body, name) && !or.some((other) => namesField(body, other)))
        wrong.push(`a 400 that does not name ${name}`);
      if (res.statusCode >= 300 && res.statusCode !== 400) wrong.push(`answered ${res.statusCode}`);
    }
    if (isMutating(op) && res.statusCode < 400) {
      accepted.push(`${op.method} ${op.template} (${request.flaw})`);
      wrong.push(`accepted with ${res.statusCode}`);
    }
    return wrong;
  }

  it('should list every operation of the document, the hot path included', () => {
    const listed = operations().map((op) => `${op.method} ${op.template}`);
    expect(listed).toEqual(
      expect.arrayContaining([
        'POST /v1/introspect',
        'GET /v1/authorize',
        'PATCH /v1/keys/{id}',
        'DELETE /v1/scopes/{name}',
        'POST /v1/keys/leaked',
      ]),
    );
    expect(listed.length).toBeGreaterThanOrEqual(22);
  });

  it('should find every list and every date-time field in the document', () => {
    const ops = operations();
    expect(
      ops
        .filter((op) => op.paginated)
        .map((op) => op.template)
        .sort(),
    ).toEqual(['/v1/audit-events', '/v1/clients', '/v1/keys', '/v1/scopes']);
    expect(
      ops
        .filter((op) => op.integerQueryParams.includes('limit'))
        .map((op) => op.template)
        .sort(),
    ).toEqual(['/v1/audit-events', '/v1/clients', '/v1/keys', '/v1/scopes']);
    const dates = ops.flatMap((op) =>
      [...op.dateQueryParams, ...op.dateBodyProperties].map((name) => `${op.operationId}.${name}`),
    );
    expect(dates).toEqual(
      expect.arrayContaining([
        'listAudit.from',
        'listAudit.to',
        'ofKeyUsage.from',
        'ofKeyUsage.to',
        'ofClientUsage.from',
        'ofClientUsage.to',
        'issueKey.expires_at',
        'updateKey.expires_at',
        'rotateKey.expires_at',
      ]),
    );
  });

  it.each(operations().map((op) => [`${op.method} ${op.template}`, op] as const))(
    'should refuse what no client should send to %s',
    async (_, op) => {
      await fc.assert(
        fc.asyncProperty(badRequest(op, fixtures!), async (request) => {
          const wrong = await send(op, request);
          if (wrong.length > 0) throw new Error(`${request.flaw}: ${wrong.join('; ')}`);
        }),
        { numRuns: RUNS },
      );
    },
  );

  it('should have changed nothing stored', async () => {
    expect(sent).toBeGreaterThan(RUNS * 20);
    expect(accepted).toEqual([]);
    expect(before.size).toBeGreaterThanOrEqual(5);
    expect(changes(before, await snapshot(app, owned()), !usingPostgres)).toEqual([]);
    expect(await auditEventsOfRequests(app, REQUEST_ID_PREFIX)).toBe(0);
    // The fixtures still work: nothing was revoked, rotated or renamed along the way.
    expect((await app.post('/v1/introspect', { token: fixtures.issuedKey })).body).toMatchObject({
      active: true,
      sub: fixtures.keyId,
    });
  });
});
