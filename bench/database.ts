import { Client } from 'pg';
import { openEmbeddedDatabase } from '../src/database/data-source';
import type { SeededKey } from './fixture';

/** What PostgreSQL itself counted, read before and after a run. */
export interface DbCounters {
  /** Transactions committed in the database, reads included (every autocommit SELECT is one). */
  transactions: number;
  /** Rows inserted, updated and deleted in the service's tables. */
  rowsWritten: number;
  /** Scans of the digest index: one per key lookup that reached the database. */
  digestLookups: number;
  /** INSERT/UPDATE/DELETE statements executed, when pg_stat_statements is loaded. */
  writeStatements: number | null;
}

export const countersDelta = (before: DbCounters, after: DbCounters): DbCounters => ({
  transactions: after.transactions - before.transactions,
  rowsWritten: after.rowsWritten - before.rowsWritten,
  digestLookups: after.digestLookups - before.digestLookups,
  writeStatements:
    after.writeStatements !== null && before.writeStatements !== null
      ? after.writeStatements - before.writeStatements
      : null,
});

const SCRATCH_MARK = 'keyhouse bench scratch schema';
const BULK_CHUNK = 5000;

const BULK_INSERT_SQL = `
  WITH k AS (
    INSERT INTO api_keys (id, client_id, environment, name, digest, digest_secret, hint, metadata, created_at, updated_at)
    SELECT t.id::uuid, $1::uuid, 'live', t.name, t.digest, 'initial', t.hint, '{}'::jsonb, to_timestamp($6::float8 / 1000), to_timestamp($6::float8 / 1000)
      FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, name, digest, hint)
    RETURNING id)
  INSERT INTO key_scopes (key_id, scope_name) SELECT id, $7 FROM k`;

type Query = (text: string, values: unknown[]) => Promise<unknown>;

/** Inserts keys the fast way: one statement per few thousand rows, digests computed in Node. */
async function bulkInsert(
  query: Query,
  keys: SeededKey[],
  digestOf: (token: string) => string,
  hintOf: (token: string) => string,
): Promise<void> {
  for (let i = 0; i < keys.length; i += BULK_CHUNK) {
    const chunk = keys.slice(i, i + BULK_CHUNK);
    const first = chunk[0].record;
    await query(BULK_INSERT_SQL, [
      first.clientId,
      chunk.map((k) => k.record.keyId),
      chunk.map((k) => k.record.name),
      chunk.map((k) => digestOf(k.token)),
      chunk.map((k) => hintOf(k.token)),
      first.createdAt,
      first.scopes[0],
    ]);
  }
}

/** Real PostgreSQL: a scratch database the bench may wipe, and its statistics views. */
export class PostgresBench {
  readonly kind = 'postgres' as const;
  private constructor(
    private readonly client: Client,
    readonly version: string,
    private readonly statements: boolean,
  ) {}

  /** Empties the database's public schema, refusing to touch one that holds anything but the bench's own tables. */
  static async prepare(url: string): Promise<PostgresBench> {
    const client = new Client({ connectionString: url, application_name: 'keyhouse-bench' });
    await client.connect();
    const { rows } = await client.query<{ tables: string; mark: string | null }>(
      `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables, obj_description('public'::regnamespace, 'pg_namespace') AS mark`,
    );
    if (Number(rows[0].tables) > 0 && rows[0].mark !== SCRATCH_MARK) {
      await client.end();
      throw new Error(
        `DATABASE_URL's database already holds tables the bench did not make; the bench empties its database, so give it a scratch one (createdb kh_bench).`,
      );
    }
    await client.query(
      `DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; COMMENT ON SCHEMA public IS '${SCRATCH_MARK}'`,
    );
    const version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    let statements = false;
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await client.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
      statements = true;
    } catch {
      // not in shared_preload_libraries: fall back on the cumulative statistics views
    }
    return new PostgresBench(client, `PostgreSQL ${version}`, statements);
  }

  get hasStatementStats(): boolean {
    return this.statements;
  }

  bulkInsert(keys: SeededKey[], digestOf: (token: string) => string, hintOf: (token: string) => string): Promise<void> {
    return bulkInsert((text, values) => this.client.query(text, values), keys, digestOf, hintOf);
  }

  /** The counters now; see `SettledCounters` for when they are complete. */
  async read(): Promise<DbCounters> {
    await this.client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await this.client.query<Record<string, string | null>>(`
      SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS transactions,
             (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables) AS rows_written,
             (SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname = 'uq_api_keys_digest') AS digest_lookups`);
    let writeStatements: number | null = null;
    if (this.statements) {
      const s = await this.client.query<{ calls: string }>(`
        SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (query ~* '^\\s*(insert|update|delete|merge)\\M' OR (query ~* '^\\s*with\\M' AND query ~* '\\m(insert|update|delete)\\M'))`);
      writeStatements = Number(s.rows[0].calls);
    }
    const row = rows[0];
    return {
      transactions: Number(row.transactions),
      rowsWritten: Number(row.rows_written),
      digestLookups: Number(row.digest_lookups),
      writeStatements,
    };
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** The embedded default: PGlite in the run's DATA_DIR, opened by the bench only while the service is stopped. */
export class EmbeddedBench {
  readonly kind = 'embedded' as const;
  constructor(
    private readonly dataDir: string,
    readonly version: string,
  ) {}

  async bulkInsert(
    keys: SeededKey[],
    digestOf: (token: string) => string,
    hintOf: (token: string) => string,
  ): Promise<void> {
    const db = await openEmbeddedDatabase({ DATA_DIR: this.dataDir });
    try {
      await db.transaction((tx) => bulkInsert((text, values) => tx.query(text, values), keys, digestOf, hintOf));
    } finally {
      await db.close();
    }
  }
}

export type BenchDatabase = PostgresBench | EmbeddedBench;

/**
 * PostgreSQL 15 publishes a backend's statistics up to 10 s after its last statement (at
 * most once a second, and 10 s later when it went idle less than a second after the
 * previous publication). A reading is complete only once every backend has been idle that
 * long, so readings wait out that delay after any activity.
 */
export class SettledCounters {
  static readonly SETTLE_MS = 11_000;
  private last: { counters: DbCounters; at: number } | null = null;

  constructor(private readonly db: PostgresBench) {}

  /** Call whenever the service may have touched the database since the last reading. */
  touched(): void {
    this.last = null;
  }

  /** A reading without waiting: complete only once the service's connections have closed. */
  async readNow(): Promise<DbCounters> {
    this.last = null;
    return this.db.read();
  }

  /** `alsoWaitMs` first lets the service do delayed work (a usage flush) before settling. */
  async read(alsoWaitMs = 0): Promise<{ counters: DbCounters; at: number }> {
    if (this.last && alsoWaitMs === 0) return this.last;
    await new Promise((r) => setTimeout(r, SettledCounters.SETTLE_MS + alsoWaitMs));
    this.last = { counters: await this.db.read(), at: Date.now() };
    return this.last;
  }
}
