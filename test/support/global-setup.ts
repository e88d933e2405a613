import { Client } from 'pg';
import { generateKey } from '../../src/credentials/key-format';

/**
 * With DATABASE_URL set, the suites share one PostgreSQL database: it starts from an
 * empty schema on every run, and every app the suites start uses one root key and
 * one digest secret (the first app registers the root key; the rest find it).
 * The embedded runs give each app its own in-memory database instead.
 */
export default async function globalSetup(): Promise<void> {
  process.env.KEYHOUSE_TEST_ROOT_KEY ??= generateKey('live');
  process.env.KEYHOUSE_TEST_HASH_SECRET ??= `test-secret-${generateKey('test')}`;
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP SCHEMA IF EXISTS public CASCADE');
    await client.query('CREATE SCHEMA public');
  } finally {
    await client.end();
  }
}
