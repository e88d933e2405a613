import { randomUUID } from 'node:crypto';
import type { Call, Reply, TestApp } from './test-app';

/** A unique name per call, so tests sharing a database never collide. */
export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function makeClient(app: TestApp, fields: Record<string, unknown> = {}) {
  const res = await app.post('/v1/clients', { name: unique('client'), ...fields });
  if (res.status !== 201) throw new Error(`client not created: ${res.status} ${res.raw}`);
  return res.body as { id: string; name: string; status: string };
}

export async function makeScope(app: TestApp, name = `${unique('svc')}:read`) {
  const res = await app.post('/v1/scopes', { name, description: 'test scope' });
  if (res.status !== 201) throw new Error(`scope not created: ${res.status} ${res.raw}`);
  return res.body as { name: string };
}

export async function makeKey(app: TestApp, clientId: string, fields: Record<string, unknown> = {}) {
  const res = await app.post(`/v1/clients/${clientId}/keys`, { environment: 'live', name: unique('key'), ...fields });
  if (res.status !== 201) throw new Error(`key not issued: ${res.status} ${res.raw}`);
  return res.body as { id: string; key: string; client_id: string; status: string; scopes: string[] } & Record<
    string,
    any
  >;
}

/** A client of its own and one key under it holding `scopes`: a caller that is not a root key. */
export async function makeClientWithKey(app: TestApp, scopes: string[], keyFields: Record<string, unknown> = {}) {
  const client = await makeClient(app);
  const key = await makeKey(app, client.id, { scopes, ...keyFields });
  return { client, key };
}

/**
 * Every item of a list, following `next_cursor` page by page; `pages` counts the
 * requests. Fails on a page that is not 200 or a cursor that repeats.
 */
export async function allPages<T = any>(
  app: TestApp,
  url: string,
  call: Call = {},
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const separator = url.includes('?') ? '&' : '?';
    const res: Reply = await app.get(cursor ? `${url}${separator}cursor=${encodeURIComponent(cursor)}` : url, call);
    if (res.status !== 200) throw new Error(`page ${pages + 1} of ${url}: ${res.status} ${res.raw}`);
    pages++;
    items.push(...(res.body.data as T[]));
    cursor = res.body.next_cursor;
    if (cursor !== null) {
      if (seen.has(cursor)) throw new Error(`cursor repeated on ${url}`);
      seen.add(cursor);
    }
  } while (cursor !== null);
  return { items, pages };
}

/** Asserts an RFC 9457 problem with this status, naming the request's path and id. */
export function expectProblem(res: Reply, status: number, path?: string): void {
  expect({ status: res.status, contentType: res.headers['content-type'] }).toEqual({
    status,
    contentType: expect.stringContaining('application/problem+json'),
  });
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/^urn:keyhouse:problem:[a-z-]+$/),
    title: expect.any(String),
    status,
    detail: expect.any(String),
    request_id: res.headers['x-request-id'],
  });
  if (path) expect(res.body.instance).toBe(path);
}

/** The pointers of a 400's per-field errors, e.g. `['#/name']`. */
export function errorPointers(res: Reply): string[] {
  return [...new Set((res.body?.errors ?? []).map((e: { pointer: string }) => e.pointer))].sort() as string[];
}
