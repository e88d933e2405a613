import { EventEmitter } from 'node:events';
import type { PGlite, Results } from '@electric-sql/pglite';

type QueryConfig = { text: string; values?: unknown[]; name?: string };
type PgLikeResult = { rows: unknown[]; rowCount: number; command: string };
type Callback = (err: Error | null, result?: PgLikeResult) => void;

/**
 * A `pg.Pool` look-alike over one PGlite instance, handed to TypeORM as its driver.
 *
 * PGlite has a single session, so two TypeORM query runners used at once would
 * interleave their transactions. This pool lends out one client at a time: a query
 * runner (and so a transaction) holds the session until it releases it. Queries sent
 * to the pool itself wait their turn the same way.
 */
export class SerializedPGlitePool extends EventEmitter {
  private readonly pglite: PGlite;
  private tail: Promise<void> = Promise.resolve();

  constructor(options: { pglite: PGlite }) {
    super();
    this.pglite = options.pglite;
  }

  get totalCount(): number {
    return 1;
  }

  /** PGlite's own LISTEN: notifications sent by any statement on this database arrive here. */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const release = await this.acquire();
    try {
      return await this.pglite.listen(channel, onPayload);
    } finally {
      release();
    }
  }

  connect(callback?: (err: Error | null, client?: PGliteClient, release?: () => void) => void): Promise<PGliteClient> {
    const acquired = this.acquire().then((release) => {
      const client = new PGliteClient(this.pglite, release);
      callback?.(null, client, () => client.release());
      return client;
    });
    if (callback) acquired.catch((err: Error) => callback(err));
    return acquired;
  }

  async query(config: string | QueryConfig, values?: unknown[] | Callback, callback?: Callback): Promise<PgLikeResult> {
    const release = await this.acquire();
    try {
      const result = await runQuery(this.pglite, config, values, callback);
      return result;
    } finally {
      release();
    }
  }

  end(callback?: (err: Error | null) => void): Promise<void> {
    const closing = this.acquire().then(async (release) => {
      try {
        if (!this.pglite.closed) await this.pglite.close();
      } finally {
        release();
      }
    });
    if (callback)
      closing.then(
        () => callback(null),
        (err: Error) => callback(err),
      );
    return closing;
  }

  private acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const turn = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return turn;
  }
}

/** One lease of the PGlite session: what a TypeORM query runner holds while it works. */
class PGliteClient extends EventEmitter {
  private released = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly onRelease: () => void,
  ) {
    super();
  }

  query(config: string | QueryConfig, values?: unknown[] | Callback, callback?: Callback): Promise<PgLikeResult> {
    return runQuery(this.pglite, config, values, callback);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}

async function runQuery(
  pglite: PGlite,
  config: string | QueryConfig,
  values?: unknown[] | Callback,
  callback?: Callback,
): Promise<PgLikeResult> {
  const text = typeof config === 'string' ? config : config.text;
  const params = typeof config === 'string' ? (Array.isArray(values) ? values : undefined) : config.values;
  const done = typeof values === 'function' ? values : callback;
  try {
    const result =
      params && params.length > 0
        ? await pglite.query<Record<string, unknown>>(text, params)
        : lastOf(await pglite.exec(text));
    const shaped = shape(text, result);
    done?.(null, shaped);
    return shaped;
  } catch (err) {
    done?.(err as Error);
    throw err;
  }
}

function lastOf(results: Results[]): Results {
  return results[results.length - 1] ?? { rows: [], fields: [] };
}

/** PGlite's result in the shape TypeORM reads from `pg`: rows, rowCount and the command. */
function shape(text: string, result: Results): PgLikeResult {
  const command = /^\s*(?:with\b[\s\S]*?\)\s*)?(\w+)/i.exec(text)?.[1]?.toUpperCase() ?? '';
  return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command };
}
