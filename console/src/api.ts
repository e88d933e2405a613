/**
 * The console's only way to Keyhouse: the public /v1 API, with the key the operator signed in
 * with. The key lives in this module and in sessionStorage (gone with the tab), never in
 * localStorage or a cookie.
 */

export type Status = 'active' | 'expiring' | 'expired' | 'revoked';

export interface Client {
  id: string;
  name: string;
  description: string | null;
  status: 'active' | 'suspended';
  allowed_scopes: string[];
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface Key {
  id: string;
  client_id: string;
  name: string;
  environment: 'live' | 'test';
  status: Status;
  hint: string;
  scopes: string[];
  ip_allowlist: string[];
  metadata: Record<string, unknown>;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
  replaces: string | null;
  replaced_by: string | null;
  grace_ends_at: string | null;
  usage_limit: number | null;
  remaining: number | null;
  rate_limit: { limit: number; window_seconds: number } | null;
}

/** A key as the API answers it once, at issue or rotation: with the full secret. */
export interface IssuedKey extends Key {
  key: string;
}

export interface UsageCounts {
  total: number;
  outcomes: Record<string, number>;
}

export interface UsageBucket extends UsageCounts {
  start: string;
}

export interface UsageReport {
  granularity: 'hour' | 'day';
  from: string;
  to: string;
  last_used_at: string | null;
  totals: UsageCounts;
  buckets: UsageBucket[];
  keys?: Array<{ key_id: string; name: string; hint: string; totals: UsageCounts; last_used_at: string | null }>;
}

export interface AuditEvent {
  id: string;
  occurred_at: string;
  action: string;
  actor_key_id: string | null;
  client_id: string | null;
  target_type: string;
  target_id: string;
  request_id: string;
  source_ip: string | null;
  changes: Record<string, unknown>;
  hash: string;
  prev_hash: string;
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  head?: string | null;
  head_id?: string | null;
  broken_at?: string | null;
  problem?: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** An RFC 9457 problem the API answered, or one the console makes for a request that never got an answer. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

const STORAGE_KEY = 'keyhouse.console.key';
let key: string | null = readStoredKey();

function readStoredKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function currentKey(): string | null {
  return key;
}

export function setKey(value: string | null): void {
  key = value;
  try {
    if (value) sessionStorage.setItem(STORAGE_KEY, value);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (private mode): the key stays in memory only, for this page.
  }
}

type Query = Record<string, string | number | undefined | null>;

/** One call to /v1 with the signed-in key (or `withKey`); a problem (or no answer at all) is thrown as a Problem. */
export async function api<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; withKey?: string } = {},
): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {}))
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  const presented = options.withKey ?? key;
  if (presented) headers.Authorization = `Bearer ${presented}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new Problem(0, 'Network failure', 'Keyhouse could not be reached: check the connection and try again.');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const problem = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const title = typeof problem.title === 'string' ? problem.title : response.statusText || 'Error';
    const detail =
      typeof problem.detail === 'string' ? problem.detail : `Keyhouse answered ${response.status} ${title}.`;
    throw new Problem(response.status, title, detail, problem);
  }
  return body as T;
}

/** Every item of a list, page by page, up to `max` items. */
export async function allPages<T>(path: string, query: Query = {}, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await api<Page<T>>('GET', path, { query: { ...query, limit: 200, cursor } });
    items.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export function asProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  return new Problem(0, 'Error', err instanceof Error ? err.message : String(err));
}
