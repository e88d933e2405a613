// Applies pending migrations and exits: `npm run migrate`, or `node dist/src/migrate.js` in a production
// install (no dev dependency, no build). Reads only the database variables (DATABASE_URL, or DATA_DIR for the
// embedded database); KEY_HASH_SECRET is not needed. Instances migrating at once take turns (see runMigrations).
import 'reflect-metadata';
import { InvalidConfiguration } from './config/config';
import { loadDatabaseConfig } from './config/database-config';
import { createDataSource, runMigrations } from './database/data-source';
import { DataDirInUse } from './database/data-dir-lock';
import { ENTITIES } from './store/entities';

async function migrate(): Promise<number> {
  try {
    process.loadEnvFile?.();
  } catch {
    // no .env file: the environment alone configures the migration
  }
  let env;
  try {
    env = loadDatabaseConfig(process.env);
  } catch (err) {
    if (err instanceof InvalidConfiguration) {
      process.stderr.write(`${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  let dataSource;
  try {
    dataSource = await createDataSource(env, ENTITIES);
  } catch (err) {
    if (err instanceof DataDirInUse) {
      process.stderr.write(`${err.message}\n`);
      return 75; // EX_TEMPFAIL: free once the other process stops
    }
    throw err;
  }
  const where = env.DATABASE_URL ? 'PostgreSQL' : `the embedded database in ${env.DATA_DIR}`;
  await dataSource.initialize();
  try {
    const pending = await dataSource.showMigrations();
    await runMigrations(dataSource);
    const applied = await dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
    process.stdout.write(
      `${pending ? 'migrations applied' : 'no migration pending'} on ${where}; ${applied.length} applied in all, the last ${applied.at(-1)?.name ?? 'none'}\n`,
    );
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

migrate().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
