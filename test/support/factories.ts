import { randomUUID } from 'node:crypto';
import type { TestApp } from './test-app';

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
  return res.body as { id: string; key: string; client_id: string; status: string; scopes: string[] } & Record<string, any>;
}
