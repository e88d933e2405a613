import { randomUUID } from 'node:crypto';
import { Client } from 'pg';

/**
 * A new, empty PostgreSQL database beside the run's, and how to drop it: for a suite
 * that must not share the run's database (it locks its tables, or needs a clean schema).
 */
export async function createThrowawayDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `kh_scratch_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const fresh = new URL(url);
  fresh.pathname = `/${name}`;
  return {
    url: fresh.toString(),
    drop: async () => {
      const again = new Client({ connectionString: url });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.end();
    },
  };
}
