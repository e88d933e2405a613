/* eslint-disable @typescript-eslint/unbound-method -- pg's methods are wrapped here and called with their own client as this. */
import pg from 'pg';

/** Why a connection may not go back to the pool: its last query failed in a way that leaves its state unknown. */
const broken = new WeakMap<pg.PoolClient, Error>();

/**
 * `pg.Pool` as TypeORM's driver, which never lends out a connection whose query failed
 * without an answer from the server (`query_timeout`, a reset): pg gives up on such a
 * query but the statement may still be on its way, or half run in a transaction the
 * server still holds, and TypeORM releases the connection to the pool as if it were
 * clean. Released after such a failure, the connection is destroyed instead; the next
 * user gets a fresh one. An error the server answered (a constraint, a cancelled
 * statement) leaves the connection usable, as before.
 */
export class GuardedPool extends pg.Pool {
  constructor(config?: pg.PoolConfig) {
    super(config);
    this.on('connect', watchQueries);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): void;
  override connect(
    callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<pg.PoolClient> | void {
    if (!callback) return super.connect().then(guardRelease);
    super.connect((err, client, done) => {
      if (err || !client) return callback(err, client, done);
      guardRelease(client);
      callback(undefined, client, client.release as (release?: unknown) => void);
    });
  }
}

/** pg as TypeORM loads it, with the guarded pool. */
export const guardedPg = { ...pg, Pool: GuardedPool };

function watchQueries(client: pg.PoolClient): void {
  const query = client.query;
  client.query = function (this: pg.PoolClient, ...args: unknown[]) {
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) {
      result.catch((err: unknown) => {
        if (!(err instanceof pg.DatabaseError)) broken.set(client, err instanceof Error ? err : new Error(String(err)));
      });
    }
    return result;
  } as typeof client.query;
}

function guardRelease(client: pg.PoolClient): pg.PoolClient {
  const release = client.release;
  client.release = (err?: Error | boolean) => release(err || broken.get(client));
  return client;
}
