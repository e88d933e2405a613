/**
 * The baselines: the least a server must do to answer an introspection, with no framework.
 *
 *   node baseline-server.js --fixture FILE --port N [--pg]
 *
 * Each call parses the JSON body, authenticates the caller (HMAC-SHA-256 of its key, Map
 * lookup, `admin:introspect`), checks the token's format and checksum, computes the same
 * HMAC-SHA-256 of the token under KEY_HASH_SECRET and finds it in a Map (or, with `--pg`,
 * with the service's own query, KEY_RECORD_SQL, on DATABASE_URL: for the caller's key and
 * for the token, as the service does with its cache off), then checks
 * status, expiry, client, environment and scopes and writes the service's JSON.
 * `GET /v1/authorize` does the same from the forwarded headers and answers 204.
 */
import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { presentedKey } from '../src/auth/actor';
import { parseKey } from '../src/credentials/key-format';
import { keyRecordFromRow } from '../src/credentials/key-record';
import { KEY_RECORD_SQL, type KeyRow } from '../src/store/keys.repository';
import { coversAll } from '../src/credentials/scope-match';
import { readFixture, type StoredRecord } from './fixture';
import { activeIntrospection, inactiveIntrospection } from './responses';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const secret = Buffer.from(process.env.KEY_HASH_SECRET ?? '', 'utf8');
if (secret.length < 32) throw new Error('KEY_HASH_SECRET (at least 32 characters) is required');
const digestOf = (key: string): string => createHmac('sha256', secret).update(key).digest('hex');

const fixture = readFixture(option('--fixture') ?? '');
const callers = new Map<string, StoredRecord>(fixture.callers.map((c) => [digestOf(c.token), c.record]));
const keys = new Map<string, StoredRecord>(fixture.keys.map((k) => [digestOf(k.token), k.record]));
const pool = args.includes('--pg')
  ? new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_SIZE ?? 10) })
  : null;

async function lookup(digest: string, map = keys): Promise<StoredRecord | null> {
  if (!pool) return map.get(digest) ?? null;
  const { rows } = await pool.query<KeyRow>({ name: 'keyhouse_verify', text: KEY_RECORD_SQL, values: [digest] });
  return rows[0] ? keyRecordFromRow(rows[0]) : null;
}

function reasonAgainst(record: StoredRecord, scopes: string[], environment: unknown, now: number): string | null {
  if (record.revokedAt !== null && record.revokedAt <= now) return 'revoked';
  const ends = [record.expiresAt, record.graceEndsAt].filter((t): t is number => t !== null);
  if (ends.length > 0 && Math.min(...ends) <= now) return 'expired';
  if (!record.clientActive) return 'client_suspended';
  if (environment !== undefined && environment !== record.environment) return 'environment_mismatch';
  if (scopes.length > 0 && !coversAll(record.scopes, scopes)) return 'insufficient_scope';
  return null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

async function introspect(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  const caller = presentedKey(req.headers);
  const callerRecord = caller && parseKey(caller) ? await lookup(digestOf(caller), callers) : null;
  if (!callerRecord) return send(res, 401, { type: 'about:blank', title: 'Unauthorized', status: 401 });
  if (!coversAll(callerRecord.scopes, ['admin:introspect']))
    return send(res, 403, { type: 'about:blank', title: 'Forbidden', status: 403 });
  let body: { token?: unknown; scope?: unknown; environment?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    return send(res, 400, { type: 'about:blank', title: 'Bad Request', status: 400 });
  }
  if (typeof body.token !== 'string') return send(res, 400, { type: 'about:blank', title: 'Bad Request', status: 400 });
  if (!parseKey(body.token)) return send(res, 200, inactiveIntrospection('malformed'));
  const record = await lookup(digestOf(body.token));
  if (!record) return send(res, 200, inactiveIntrospection('not_found'));
  const scopes = typeof body.scope === 'string' && body.scope !== '' ? body.scope.split(' ') : [];
  const reason = reasonAgainst(record, scopes, body.environment, Date.now());
  send(res, 200, reason ? inactiveIntrospection(reason) : activeIntrospection(record));
}

async function authorize(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = presentedKey(req.headers);
  const record = token && parseKey(token) ? await lookup(digestOf(token)) : null;
  const needed = req.headers['x-required-scopes'];
  const scopes = typeof needed === 'string' && needed !== '' ? needed.split(' ') : [];
  const reason = record ? reasonAgainst(record, scopes, undefined, Date.now()) : 'not_found';
  if (!record || reason) {
    res.writeHead(reason === 'insufficient_scope' ? 403 : 401, { 'content-length': 0 });
    res.end();
    return;
  }
  const headers: Record<string, string | number> = {
    'x-client-id': record.clientId,
    'x-key-id': record.keyId,
    'x-scopes': record.scopes.join(' '),
  };
  if (record.rateLimit) {
    headers['x-ratelimit-limit'] = record.rateLimit.limit;
    headers['x-ratelimit-remaining'] = record.rateLimit.limit - 1;
    headers['x-ratelimit-reset'] = record.rateLimit.windowSeconds;
  }
  res.writeHead(204, headers);
  res.end();
}

const server = createServer((req, res) => {
  const path = req.url?.split('?')[0];
  const handled =
    req.method === 'POST' && path === '/v1/introspect'
      ? introspect(req, res)
      : req.method === 'GET' && path === '/v1/authorize'
        ? authorize(req, res)
        : Promise.resolve(send(res, 404, { type: 'about:blank', title: 'Not Found', status: 404 }));
  handled.catch(() => send(res, 503, { type: 'about:blank', title: 'Service Unavailable', status: 503 }));
});
server.keepAliveTimeout = 72_000;
server.listen(Number(option('--port') ?? 0), '127.0.0.1', () => {
  process.send?.({ ready: true, keys: keys.size });
});
// The IPC channel would keep the process alive; leave on our own so a --cpu-prof profile gets written.
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (pool?.end() ?? Promise.resolve()).finally(() => process.exit(0));
});
