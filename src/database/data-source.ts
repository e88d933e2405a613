import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { Logger as Pino } from 'pino';
import { createLogger } from '../common/logger';
import type { AppConfig } from '../config/config';
import { DatabaseLogger } from './database-logger';
import { guardedPg } from './guarded-pg-pool';
import { lockDataDir } from './data-dir-lock';
import { SerializedPGlitePool } from './pglite-pool';
import { PrivateNodeFS } from './private-node-fs';

export const MIGRATIONS_GLOB = join(__dirname, '..', '..', 'migrations', '*.{js,ts}');

/** Where the embedded database keeps its files inside DATA_DIR. */
export function embeddedDatabaseDir(env: Pick<AppConfig, 'DATA_DIR'>): string {
  return resolve(env.DATA_DIR, 'pglite');
}

/**
 * Opens the embedded PostgreSQL, in memory when DATA_DIR is `memory://`. A folder is
 * taken for this process (see lockDataDir) until the database is closed or the process
 * exits, and kept private to its user: the folder 0700 and every file 0600 (see
 * PrivateNodeFS), old installs' modes tightened on start.
 */
export async function openEmbeddedDatabase(env: Pick<AppConfig, 'DATA_DIR'>): Promise<PGlite> {
  const options = {
    // PGlite sends JS booleans as 't'/'f' text; PostgreSQL's parser wants the keywords.
    serializers: { [types.BOOL]: (v: unknown) => (v === true ? 'true' : v === false ? 'false' : String(v)) },
  };
  if (env.DATA_DIR.startsWith('memory://')) return PGlite.create({ dataDir: 'memory://', ...options });
  const folder = resolve(env.DATA_DIR);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(folder);
  try {
    const dataDir = embeddedDatabaseDir(env);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // The folder itself and what Keyhouse keeps in it; anything else an operator put there is left alone.
    makePrivate(folder, false);
    for (const own of [dataDir, join(folder, 'key-hash-secret')]) makePrivate(own, true);
    const pglite = await PGlite.create({ fs: new PrivateNodeFS(dataDir), ...options });
    const close = pglite.close.bind(pglite);
    // The folder is free again once its database is closed, whoever closes it.
    pglite.close = () => close().finally(() => lock.release());
    return pglite;
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** Takes group and other permissions off a path and, for a folder and `deep`, everything in it. */
function makePrivate(path: string, deep: boolean): void {
  if (!existsSync(path)) return;
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.mode & 0o077) chmodSync(path, stat.mode & 0o700);
  if (deep && stat.isDirectory()) for (const name of readdirSync(path)) makePrivate(join(path, name), true);
}

/** A statement slower than this is logged (without its parameters). */
const SLOW_QUERY_MS = 1000;

type Env = Pick<AppConfig, 'DATABASE_URL' | 'DB_POOL_SIZE' | 'DB_STATEMENT_TIMEOUT_MS'>;

/** The entity classes a data source maps: the store's, given by whoever wires the application. */
export type EntityList = NonNullable<DataSourceOptions['entities']>;

/**
 * TypeORM options for PostgreSQL (DATABASE_URL) or for an open embedded database; TypeORM's
 * messages go to `logger`. The connection only: no entities (see createDataSource, or set
 * `entities` on the result), so this folder knows nothing of the tables.
 */
export function dataSourceOptions(env: Env, pglite?: PGlite, logger: Pino = createLogger('warn')): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
    logging: ['error' as const, 'warn' as const, 'migration' as const],
    logger: new DatabaseLogger(logger),
    maxQueryExecutionTime: SLOW_QUERY_MS,
  };
  if (env.DATABASE_URL) {
    return {
      ...common,
      url: env.DATABASE_URL,
      poolSize: env.DB_POOL_SIZE,
      connectTimeoutMS: 5000,
      applicationName: 'keyhouse',
      // A connection whose query gets no answer is destroyed, not lent out again (see GuardedPool).
      driver: guardedPg,
      extra: {
        statement_timeout: env.DB_STATEMENT_TIMEOUT_MS,
        query_timeout: env.DB_STATEMENT_TIMEOUT_MS + 1000,
        // A transaction left open by a connection the service gave up on ends on the server too.
        idle_in_transaction_session_timeout: Math.max(10_000, 2 * env.DB_STATEMENT_TIMEOUT_MS),
        // A network path that died without a word is found by TCP, not only by the next query.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        idleTimeoutMillis: 30_000,
      },
    };
  }
  if (!pglite) throw new Error('the embedded database must be opened before its data source');
  return { ...common, driver: { Pool: SerializedPGlitePool }, extra: { pglite } };
}

/** A data source for the environment mapping `entities`, opening the embedded database when DATABASE_URL is unset. */
export async function createDataSource(
  env: Env & Pick<AppConfig, 'DATA_DIR'>,
  entities: EntityList,
): Promise<DataSource> {
  const pglite = env.DATABASE_URL ? undefined : await openEmbeddedDatabase(env);
  return new DataSource({ ...dataSourceOptions(env, pglite), entities });
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
