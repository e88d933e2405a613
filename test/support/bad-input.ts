import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { checkResponse, OPENAPI_FILE } from './openapi-validation';
import type { TestApp } from './test-app';

/**
 * What the bad-input suites share: the operations of the committed OpenAPI document (so a
 * new endpoint is fuzzed without anyone listing it), generators of requests no client
 * should send, the checks every answer to one must pass, and a snapshot of the stored data.
 */

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  pathParams: string[];
  queryParams: string[];
  /** Property name -> its schema, for operations that take a body. */
  bodyProperties: Record<string, any> | null;
  formBody: boolean;
  /** Query parameters and body properties the document types as `format: date-time`. */
  dateQueryParams: string[];
  dateBodyProperties: string[];
  /** Query parameters the document types as `integer`. */
  integerQueryParams: string[];
  /** Whether the operation is a list (it takes `cursor`). */
  paginated: boolean;
}

const document = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));

function resolve(schema: any): any {
  if (schema?.$ref) return resolve(document.components.schemas[schema.$ref.replace('#/components/schemas/', '')]);
  if (schema?.allOf) {
    // The outer schema keeps what it adds to the parts, such as `nullable`.
    const { allOf, ...outer } = schema;
    const parts = allOf.map(resolve);
    return Object.assign({}, ...parts, outer, {
      properties: Object.assign({}, ...parts.map((s: any) => s.properties)),
    });
  }
  return schema;
}

export function operations(): Operation[] {
  const list: Operation[] = [];
  for (const [template, item] of Object.entries<any>(document.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      const parameters = (op.parameters ?? []) as { in: string; name: string; schema?: any }[];
      const content = op.requestBody?.content ?? null;
      const schema = content ? resolve(content['application/json']?.schema) : null;
      const bodyProperties = schema
        ? Object.fromEntries(Object.entries<any>(schema.properties ?? {}).map(([name, s]) => [name, resolve(s)]))
        : null;
      const queryParams = parameters.filter((p) => p.in === 'query');
      list.push({
        method: method.toUpperCase(),
        template,
        operationId: op.operationId,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodyProperties,
        formBody: Boolean(content?.['application/x-www-form-urlencoded']),
        dateQueryParams: queryParams.filter((p) => resolve(p.schema)?.format === 'date-time').map((p) => p.name),
        dateBodyProperties: Object.entries<any>(bodyProperties ?? {})
          .filter(([, s]) => s?.format === 'date-time')
          .map(([name]) => name),
        integerQueryParams: queryParams.filter((p) => resolve(p.schema)?.type === 'integer').map((p) => p.name),
        paginated: queryParams.some((p) => p.name === 'cursor'),
      });
    }
  }
  return list;
}

/** Placeholders for secrets, replaced when sending: a counterexample fast-check prints never holds a real key. */
export const SECRET_PLACEHOLDERS = ['@ROOT_KEY@', '@ISSUED_KEY@', '@ROOT_KEY_BODY@', '@ISSUED_KEY_BODY@'] as const;

/** Fields the admin API never takes from a caller, and look-alikes of the ones it does take. */
export const FOREIGN_FIELDS = [
  'digest',
  'key_digest',
  'client_id',
  'revoked_at',
  'revoked_reason',
  'id',
  'created_at',
  'updated_at',
  'replaced_by',
  'replaces',
  'grace_ends_at',
  'hint',
  'key',
  'hash',
  'prev_hash',
  'is_system',
  'last_used_at',
  'remaining',
  'status',
  'token',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'nаme' /* Cyrillic а */,
  'ｎａｍｅ' /* full width */,
  'name\u200b',
  'NAME',
  'scopes ',
  'métadata',
];

const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/** Strings no field takes as they are: huge, control and NUL characters, look-alikes, secrets, injection. */
export const badString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    'x'.repeat(5000),
    'x'.repeat(70_000),
    '',
    ' ',
    'a\u0000b',
    '\u0000',
    '\ud800',
    'line\nbreak',
    '\u202eevil',
    'оrders:read' /* Cyrillic о */,
    'orders:read\u200b',
    "'; DROP TABLE api_keys; --",
    '../../etc/passwd',
    '%00',
    '${jndi:ldap://x}',
    '{{7*7}}',
    '<script>alert(1)</script>',
    ...SECRET_PLACEHOLDERS,
  ),
);

/** A value of the wrong JSON type for `schema` (never null where null is allowed). */
export function wrongType(schema: any): fc.Arbitrary<unknown> {
  const type = schema?.type ?? (schema?.enum ? 'string' : undefined);
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.oneof(fc.constant('1'), fc.constant('true'), badString),
    integer: fc.constantFrom(1.5, -1, 0, 2 ** 53, 1e308, -0),
    number: fc.constantFrom(1, 0),
    boolean: fc.constantFrom(true, false),
    array: fc.constantFrom([], [1, 2], [null], ['a', 'a']),
    object: fc.constantFrom({}, { a: { b: { c: { d: { e: { f: 1 } } } } } }),
    null: fc.constant(null),
  };
  const wrong = Object.entries(all)
    .filter(([t]) => t !== type && !(t === 'number' && type === 'integer') && !(t === 'integer' && type === 'number'))
    .filter(([t]) => !(t === 'null' && schema?.nullable))
    .map(([, arbitrary]) => arbitrary);
  return fc.oneof(...wrong);
}

export type Mutation = { kind: string; body: unknown; raw?: string };

/**
 * A body derived from a valid one by a change that makes it invalid for the admin API:
 * a foreign field, a wrong type, a bad string where a string goes, deep nesting, a
 * body that is no object, a look-alike key.
 */
export function badBody(valid: Record<string, unknown>, properties: Record<string, any>): fc.Arbitrary<Mutation> {
  const names = Object.keys(properties);
  const stringNames = names.filter(
    (n) => properties[n]?.type === 'string' && !properties[n]?.enum && !properties[n]?.format,
  );
  const foreign = FOREIGN_FIELDS.filter((f) => !names.includes(f));
  const arbitraries: fc.Arbitrary<Mutation>[] = [
    fc
      .tuple(fc.constantFrom(...foreign), fc.jsonValue({ maxDepth: 2 }))
      .map(([field, value]) => ({ kind: `foreign field ${field}`, body: { ...valid, [field]: value } })),
    fc.constantFrom(null, [], [valid], 'text', 42, true).map((body) => ({ kind: 'not an object', body })),
    fc.constantFrom(10, 40, 1000, 9000).map((levels) => ({
      kind: `nested ${levels} deep`,
      body: null,
      raw: `{"metadata":${deep(levels)},"x":${deep(levels)}}`,
    })),
  ];
  if (names.length > 0) {
    // A field given twice, each value valid alone (the first is the valid body's, or one the field takes): which one counts is the reader's guess.
    const again = (name: string) =>
      fc.constantFrom(JSON.stringify(valid[name] ?? null), '"x"', '1', '{}', '[]').map((value) => ({ name, value }));
    arbitraries.push(
      fc
        .constantFrom(...names)
        .chain(again)
        .map(({ name, value }) => ({
          kind: `${name} twice`,
          body: null,
          raw: `{${JSON.stringify(name)}:${value},${JSON.stringify(name)} : ${JSON.stringify(valid[name] ?? null)}${Object.keys(
            valid,
          )
            .filter((n) => n !== name)
            .map((n) => `,${JSON.stringify(n)}:${JSON.stringify(valid[n])}`)
            .join('')}}`,
        })),
    );
  }
  if (names.includes('metadata')) {
    // Keys JavaScript objects inherit (which a transformer may drop without a word) and numbers JSON cannot write back.
    const rest = JSON.stringify(valid).slice(1);
    const inside = fc.oneof(
      fc
        .constantFrom(...Object.getOwnPropertyNames(Object.prototype), 'prototype')
        .map((key) => `${JSON.stringify(key)}:1`),
      fc.constantFrom('"n":1e999', '"n":-1e999', '"a":{"b":1e400}'),
    );
    arbitraries.push(
      inside.map((member) => ({
        kind: `metadata {${member}}`,
        body: null,
        raw: `{"metadata":{${member}}${rest === '}' ? '}' : `,${rest}`}`,
      })),
    );
  }
  if (names.length > 0) {
    arbitraries.push(
      fc.constantFrom(...names).chain((name) =>
        wrongType(properties[name]).map((value) => ({
          kind: `wrong type for ${name}`,
          body: { ...valid, [name]: value },
        })),
      ),
    );
  }
  if (stringNames.length > 0) {
    // Strings that no field takes: each of these alone makes the body invalid.
    const invalidString = fc.constantFrom('x'.repeat(5000), 'x'.repeat(70_000), 'a\u0000b', '\ud800', 'line\nbreak');
    arbitraries.push(
      fc
        .tuple(fc.constantFrom(...stringNames), invalidString)
        .map(([name, value]) => ({ kind: `bad string for ${name}`, body: { ...valid, [name]: value } })),
    );
  }
  return fc.oneof(...arbitraries);
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** JSON values a cursor part may be replaced by: every type, and strings no column takes. */
const cursorPart: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '',
    '\u0000',
    'a',
    'b',
    '-1',
    '0',
    '1e5',
    '99999999999999999999',
    '9223372036854775808',
    'not-a-uuid',
    '2026-02-30T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '+010000-01-01T00:00:00.000Z',
    'orders:read',
    ' ',
  ),
  badString,
);

export interface BadCursor {
  kind: string;
  cursor: string;
}

/**
 * Cursors the service did not issue, most of them well formed: base64url of JSON of a
 * wrong shape (any JSON value, and `issued`, a real cursor of the list, with one part
 * replaced, dropped or added, or its parts wrapped in an object), and bytes that are no JSON.
 * Found by generation, not listed: the next cursor bug is one of these shapes.
 */
export function badCursor(issued: string): fc.Arbitrary<BadCursor> {
  const parts = JSON.parse(Buffer.from(issued, 'base64url').toString('utf8')) as unknown[];
  const at = fc.nat({ max: Math.max(parts.length - 1, 0) });
  return fc.oneof(
    fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ kind: `JSON ${JSON.stringify(v).slice(0, 40)}`, cursor: base64url(JSON.stringify(v)) })),
    {
      weight: 4,
      arbitrary: fc.tuple(at, cursorPart).map(([i, v]) => {
        const changed = [...parts];
        changed[i] = v;
        return { kind: `part ${i} replaced`, cursor: base64url(JSON.stringify(changed)) };
      }),
    },
    at.map((i) => ({ kind: `part ${i} dropped`, cursor: base64url(JSON.stringify(parts.filter((_, j) => j !== i))) })),
    cursorPart.map((v) => ({ kind: 'a part added', cursor: base64url(JSON.stringify([...parts, v])) })),
    fc.constant({
      kind: 'parts in an object',
      cursor: base64url(JSON.stringify(Object.fromEntries(parts.map((p, i) => [String(i), p])))),
    }),
    fc
      .uint8Array({ maxLength: 40 })
      .map((bytes) => ({ kind: 'random bytes', cursor: Buffer.from(bytes).toString('base64url') })),
    fc
      .constantFrom(
        'AA',
        'AAAA',
        base64url('\u0000'),
        base64url('null'),
        base64url('[]'),
        `${issued}=`,
        issued.slice(0, -2),
        `${issued}AA`,
      )
      .map((cursor) => ({ kind: 'cut or padded', cursor })),
  );
}

const DAYS_IN_MONTH = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const isLeap = (y: number) => DAYS_IN_MONTH(y, 2) === 29;
const time = fc.constantFrom('T00:00:00Z', 'T12:34:56.789Z', 'T23:59:59+01:00', 't01:02:03z', '');
const year = fc.integer({ min: 1970, max: 9998 });

/**
 * Text that names no instant, or an instant outside the range the API takes: days past
 * the end of their month (29 February of a common year among them), months and times
 * out of range, week and ordinal dates, bare dates and local times, offsets beyond
 * ±23:59, and years 0000 to 1969 and 9999 on, six-digit extended years too.
 */
export const badDate: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(year, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 9 }), time)
    .map(([y, m, over, t]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(DAYS_IN_MONTH(y, m) + over, 2)}${t}`),
  year.filter((y) => !isLeap(y)).chain((y) => time.map((t) => `${pad(y, 4)}-02-29${t}`)),
  fc.tuple(year, fc.constantFrom(0, 13, 99), time).map(([y, m, t]) => `${pad(y, 4)}-${pad(m, 2)}-01${t}`),
  fc
    .tuple(year, fc.integer({ min: 1, max: 53 }), fc.option(fc.integer({ min: 1, max: 7 })))
    .map(([y, w, d]) => `${pad(y, 4)}-W${pad(w, 2)}${d === null ? '' : `-${d}`}`),
  fc.tuple(year, fc.integer({ min: 1, max: 366 }), time).map(([y, d, t]) => `${pad(y, 4)}-${pad(d, 3)}${t}`),
  fc
    .tuple(year, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }))
    .map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`),
  fc
    .tuple(
      year,
      fc.constantFrom(
        'T24:00:00Z',
        'T23:60:00Z',
        'T23:59:60Z',
        'T23:59:61Z',
        'T12:00:00',
        'T12:00Z',
        'T12:00:00+24:00',
        'T12:00:00-25:00',
        'T12:00:00+23:60',
        'T12:00:00+0100',
        'T12:00:00.Z',
        ' 12:00:00Z',
      ),
    )
    .map(([y, t]) => `${pad(y, 4)}-06-15${t}`),
  fc
    .tuple(fc.integer({ min: 0, max: 1969 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), time)
    .map(([y, m, d, t]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}${t || 'T00:00:00Z'}`),
  fc
    .tuple(fc.integer({ min: 9999, max: 275_000 }), fc.constantFrom('+', '-', ''))
    .map(([y, sign]) => `${sign}${pad(y, sign ? 6 : 4)}-01-01T00:00:00Z`),
  fc.constantFrom(
    '0000-01-01',
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '9999-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '+002026-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
    '2026',
    '2026-01',
    '20260101T000000Z',
    'now',
    '',
  ),
);

/** Instants at the edges of the range the API takes: they must be answered, never with a 500. */
/** Integers as no client writes them in a query: signs, spaces, exponents, other bases, leading zeros, fractions, other digits. */
export const badIntegerText = fc.constantFrom(
  ' 5',
  '5 ',
  '+5',
  '-0',
  '1e1',
  '0x10',
  '0b11',
  '0o7',
  '010',
  '5.0',
  '5.',
  '.5e1',
  '5_0',
  '٥',
  '５',
  'Infinity',
  '1e9',
  '-1',
  '0',
);

export const edgeDate: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1970-01-01T00:00:00Z',
    '1970-01-01T00:59:59.999Z',
    '1970-01-01T01:00:00+01:00',
    '9998-12-31T23:59:59.999Z',
    '9998-12-31T23:30:00Z',
    '9998-12-31T23:00:00-00:59',
    '9998-12-01T00:00:00Z',
  ),
  fc
    .tuple(fc.constantFrom(1970, 1971, 9997, 9998), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 23 }))
    .map(([y, m, h]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(DAYS_IN_MONTH(y, m), 2)}T${pad(h, 2)}:30:00Z`),
);

/** Whether a 400 problem names `field` in its per-field errors (`#/field` or `query/field`). */
export function namesField(raw: string, field: string): boolean {
  try {
    const errors = (JSON.parse(raw).errors ?? []) as { pointer?: string }[];
    return errors.some((e) => typeof e.pointer === 'string' && e.pointer.split('/').pop() === field);
  } catch {
    return false;
  }
}

/** Percent-encodes text, a lone surrogate included (as the UTF-8 bytes no decoder takes). */
export function percentEncode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text].map((c) => (/[\ud800-\udfff]/.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

/** Replaces the placeholders by the secrets they stand for. */
export function withSecrets(text: string, secrets: Record<(typeof SECRET_PLACEHOLDERS)[number], string>): string {
  let out = text;
  for (const [placeholder, secret] of Object.entries(secrets)) out = out.split(placeholder).join(secret);
  return out;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
}

const STACK_TRACE = /\bat [\w.<>]+ \(|\.ts:\d+|node_modules|\bstack\b|Error: /;

/**
 * The checks every answer to a bad request must pass; returns what is wrong (empty
 * when nothing), never the secret itself.
 */
export function problemsWith(
  answer: Answer,
  request: { method: string; url: string; headers: Record<string, string> },
  secrets: string[],
  bodiless = false,
): string[] {
  const wrong: string[] = [];
  if (answer.status >= 500) wrong.push(`answered ${answer.status}`);
  if (STACK_TRACE.test(answer.raw)) wrong.push('the body looks like a stack trace');
  const everything = `${answer.raw}\n${JSON.stringify(answer.headers)}`;
  secrets.forEach((secret, i) => {
    if (everything.includes(secret) || everything.includes(secret.slice(8)))
      wrong.push(`secret #${i} is in the answer`);
  });
  if (answer.status >= 400 && answer.status < 500 && !bodiless) {
    if (!String(answer.headers['content-type']).startsWith('application/problem+json'))
      wrong.push(`a ${answer.status} that is not problem+json`);
    else {
      const body = JSON.parse(answer.raw);
      if (
        body.status !== answer.status ||
        typeof body.type !== 'string' ||
        body.request_id !== answer.headers['x-request-id']
      )
        wrong.push('an incomplete problem');
    }
  }
  try {
    checkResponse({
      method: request.method,
      url: request.url,
      requestHeaders: request.headers,
      status: answer.status,
      headers: answer.headers,
      raw: answer.raw,
      body: parse(answer.raw),
    } as never);
  } catch (err) {
    wrong.push((err as Error).message.split('\n')[0]);
  }
  return wrong;
}

function parse(raw: string): unknown {
  try {
    return raw.length > 0 ? JSON.parse(raw) : undefined;
  } catch {
    return raw;
  }
}

/** The rows a suite owns on a database other suites share: its client (and the system client), their keys, its scope. */
export interface Owned {
  clientId: string;
  scope: string;
}

/**
 * Every row of the tables that hold state, by primary key; last_used_at aside (usage
 * flushes may move it). With `owned`, only those rows and no audit events (other suites
 * change their own rows, and the audit suite tampers with events on purpose).
 */
export async function snapshot(app: TestApp, owned?: Owned): Promise<Map<string, string>> {
  const dataSource = app.app.get(DataSource);
  const rows = new Map<string, string>();
  const clients = `('${owned?.clientId}', '00000000-0000-4000-8000-000000000000')`;
  const tables: [string, string, string][] = [
    ['clients', 'id', `id IN ${clients}`],
    ['api_keys', 'id', `client_id IN ${clients}`],
    ['key_scopes', 'key_id::text || scope_name', `key_id IN (SELECT id FROM api_keys WHERE client_id IN ${clients})`],
    ['scopes', 'name', `name = '${owned?.scope}'`],
    ['audit_events', 'id::text', 'false'],
  ];
  for (const [table, key, mine] of tables) {
    const result: Record<string, unknown>[] = await dataSource.query(
      `SELECT ${key} AS pk, * FROM ${table}${owned ? ` WHERE ${mine}` : ''}`,
    );
    for (const row of result) {
      const { pk, last_used_at: _, ...rest } = row;
      rows.set(`${table}:${String(pk)}`, JSON.stringify(rest));
    }
  }
  return rows;
}

/**
 * What changed between two snapshots: rows changed or gone, and (on the embedded database,
 * which only this suite uses) rows added. On a shared PostgreSQL other suites add rows
 * meanwhile: the audit trail is checked for the suite's request ids instead.
 */
export function changes(before: Map<string, string>, after: Map<string, string>, exclusive: boolean): string[] {
  const changed: string[] = [];
  for (const [pk, row] of before) {
    if (!after.has(pk)) changed.push(`${pk} is gone`);
    else if (after.get(pk) !== row) changed.push(`${pk} changed`);
  }
  if (exclusive) for (const pk of after.keys()) if (!before.has(pk)) changed.push(`${pk} was added`);
  return changed;
}

export async function auditEventsOfRequests(app: TestApp, prefix: string): Promise<number> {
  const [row] = await app.app
    .get(DataSource)
    .query(`SELECT count(*)::int AS n FROM audit_events WHERE request_id LIKE $1`, [`${prefix}%`]);
  return row.n;
}
