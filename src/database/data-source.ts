import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { Environment } from '../config/config';
import { ENTITIES } from './entities';
import { SerializedPGlitePool } from './pglite-pool';

export const MIGRATIONS_GLOB = join(__dirname, '..', '..', 'migrations', '*.{js,ts}');

/** Where the embedded database keeps its files inside DATA_DIR. */
export function embeddedDatabaseDir(env: Pick<Environment, 'DATA_DIR'>): string {
  return resolve(env.DATA_DIR, 'pglite');
}

/** Opens the embedded PostgreSQL, in memory when DATA_DIR is `memory://`. */
export async function openEmbeddedDatabase(env: Pick<Environment, 'DATA_DIR'>): Promise<PGlite> {
  const inMemory = env.DATA_DIR.startsWith('memory://');
  const dataDir = inMemory ? 'memory://' : embeddedDatabaseDir(env);
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  return PGlite.create({
    dataDir,
    // PGlite sends JS booleans as 't'/'f' text; PostgreSQL's parser wants the keywords.
    serializers: { [types.BOOL]: (v: unknown) => (v === true ? 'true' : v === false ? 'false' : String(v)) },
  });
}

type Env = Pick<Environment, 'DATABASE_URL' | 'DB_POOL_SIZE' | 'DB_STATEMENT_TIMEOUT_MS'>;

/** TypeORM options for PostgreSQL (DATABASE_URL) or for an open embedded database. */
export function dataSourceOptions(env: Env, pglite?: PGlite): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
    logging: ['error' as const],
  };
  if (env.DATABASE_URL) {
    return {
      ...common,
      url: env.DATABASE_URL,
      poolSize: env.DB_POOL_SIZE,
      connectTimeoutMS: 5000,
      applicationName: 'keyhouse',
      extra: {
        statement_timeout: env.DB_STATEMENT_TIMEOUT_MS,
        query_timeout: env.DB_STATEMENT_TIMEOUT_MS + 1000,
        idleTimeoutMillis: 30_000,
      },
    };
  }
  if (!pglite) throw new Error('the embedded database must be opened before its data source');
  return { ...common, driver: { Pool: SerializedPGlitePool }, extra: { pglite } };
}

/** A data source for the environment, opening the embedded database when DATABASE_URL is unset. */
export async function createDataSource(env: Env & Pick<Environment, 'DATA_DIR'>): Promise<DataSource> {
  const pglite = env.DATABASE_URL ? undefined : await openEmbeddedDatabase(env);
  return new DataSource(dataSourceOptions(env, pglite));
}

/** Any fixed number will do, as long as every instance uses the same one. */
const MIGRATION_LOCK = 0x6b657968; // 'keyh'

/**
 * Applies pending migrations. On PostgreSQL, instances starting together would all
 * find the same migrations pending and race to apply them; a session-level advisory
 * lock lets one apply them while the others wait, then find nothing left to do.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  if (!(dataSource.options as { url?: string }).url) {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const lock = dataSource.createQueryRunner();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
  }
}
