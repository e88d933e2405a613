import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './generated/keyhouse-api.js';

export type { components, operations, paths } from './generated/keyhouse-api.js';

/** Keyhouse's admin API, typed from its OpenAPI document: `admin.POST('/v1/clients', { body: { name } })`. */
export type AdminClient = Client<paths>;
export type Schemas = components['schemas'];

export interface AdminClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Keyhouse's base URL. */
  url: string;
  /** An admin key (its scopes decide what it may do). */
  key: string;
}

/**
 * A typed client for every operation of openapi/openapi.json (openapi-fetch): paths, bodies,
 * answers and problems are checked by the compiler. The types are regenerated with the
 * document (`npm run openapi`), and a test fails when they are stale.
 */
export function createAdminClient({ url, key, headers, ...options }: AdminClientOptions): AdminClient {
  return createClient<paths>({
    ...options,
    baseUrl: url.replace(/\/+$/, ''),
    headers: { ...(headers as Record<string, string> | undefined), authorization: `Bearer ${key}` },
  });
}
