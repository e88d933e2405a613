import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, DeepPartial, EntityManager, In } from 'typeorm';
import type { KeyEnvironment } from '../common/key-environment';
import { DatabasePool } from '../database/raw-pool';
import { KeyScopeEntity } from './key-scope.entity';
import { KeyStatus, NOT_DEAD, statusCondition } from './key-status';
import { KeyEntity } from './key.entity';

/** One row of the verifier's query (KEY_RECORD_SQL): what the hot path reads about a key, never the secret. */
export interface KeyRow {
  id: string;
  client_id: string;
  client_status: string;
  is_system: boolean;
  environment: KeyEnvironment;
  name: string;
  scopes: string[] | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  grace_ends_at: Date | string | null;
  rate_limit: number | null;
  rate_window_seconds: number | null;
  ip_allowlist: string[] | null;
  usage_limit: number | null;
  metadata: Record<string, unknown> | null;
}

export const KEY_RECORD_SQL = `
  SELECT k.id, k.client_id, c.status AS client_status, c.is_system, k.environment, k.name,
         ARRAY(SELECT ks.scope_name FROM key_scopes ks WHERE ks.key_id = k.id ORDER BY ks.scope_name) AS scopes,
         k.created_at, k.expires_at, k.revoked_at, k.grace_ends_at, k.rate_limit, k.rate_window_seconds,
         k.ip_allowlist, k.usage_limit, k.metadata
    FROM api_keys k JOIN clients c ON c.id = k.client_id
   WHERE k.digest = $1`;

/**
 * KEY_RECORD_SQL for a key looked up under every digest secret at once (one digest each,
 * the current one first), with the digest it was found under: only while secrets rotate.
 */
export const KEY_RECORD_ANY_SQL = `${KEY_RECORD_SQL.replace(
  'k.metadata\n',
  'k.metadata, k.digest AS found_digest\n',
).replace('WHERE k.digest = $1', 'WHERE k.digest = ANY($1::bpchar[])')}
   LIMIT 1`;

/** A KeyRow found under one of several digests, with the one it is stored under. */
export type FoundKeyRow = KeyRow & { found_digest: string };

/**
 * Moves keys to the current digest secret: each row only if it still has the digest it was
 * found under, so concurrent moves (other instances, a rolling change) write each row at most
 * once and never undo one another's newer write.
 */
const REDIGEST_KEYS = `
  UPDATE api_keys k SET digest = u.digest, digest_secret = u.secret
    FROM unnest($1::uuid[], $2::bpchar[], $3::bpchar[], $4::varchar[]) AS u(id, found, digest, secret)
   WHERE k.id = u.id AND k.digest = u.found`;

/** One key to move to another digest secret: found under `from`, to be stored as `to` made with secret `secretId`. */
export interface DigestMove {
  keyId: string;
  from: string;
  to: string;
  secretId: string;
}

/** Keys not yet dead (neither revoked nor run out), by the digest secret they depend on. */
const KEYS_BY_SECRET = `
  SELECT k.digest_secret AS secret, count(*)::int AS keys FROM api_keys k WHERE ${NOT_DEAD} GROUP BY k.digest_secret`;

/**
 * The key whose count a use of `$1` draws on: the key itself, or, once it has been
 * rotated, the newest key of its rotation chain. A key in its grace period shares
 * the uses it handed to its successor instead of spending them a second time.
 */
const HEAD_OF_CHAIN = `
  WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM api_keys WHERE id = $1
    UNION ALL
    SELECT k.replaced_by, c.depth + 1 FROM chain c JOIN api_keys k ON k.id = c.id WHERE k.replaced_by IS NOT NULL AND c.depth < 100
  )
  SELECT id FROM chain ORDER BY depth DESC LIMIT 1`;

/**
 * Atomic: of any number of concurrent calls, exactly `remaining` get a row back. A key
 * rotated while the statement waited for its row is skipped (`replaced_by IS NULL` is
 * checked again on the row as committed), so no use is taken from a count the
 * rotation has already handed on.
 */
const CONSUME_USE = `
  WITH head AS (${HEAD_OF_CHAIN})
  UPDATE api_keys SET remaining = remaining - 1
   WHERE id = (SELECT id FROM head) AND remaining > 0 AND replaced_by IS NULL
  RETURNING remaining`;

/** Why CONSUME_USE took nothing: the head's count now (null: no limit), and whether it has been rotated meanwhile. */
const HEAD_STATE = `
  WITH head AS (${HEAD_OF_CHAIN})
  SELECT remaining, replaced_by IS NOT NULL AS rotated FROM api_keys WHERE id = (SELECT id FROM head)`;

/** Rotations racing one use: each lost race moves the head one key on, so a few tries always settle it. */
const MAX_USE_TRIES = 5;

/** The state of the head of a key's rotation chain, when no use could be taken from it. */
export interface HeadUseState {
  /** Uses left; null: the key has no usage limit. */
  remaining: number | null;
  /** Rotated since the use was tried: the head has moved on. */
  rotated: boolean;
}

/** The key touched by the last use-count flush, and when it was last used. */
export type LastUse = readonly [keyId: string, at: number];

/** The key list's filters and page (keyset on created_at, id). */
export interface KeyListFilter {
  /** Only this client's keys (a tenant's reader). */
  ownClientId: string | null;
  clientId?: string;
  environment?: KeyEnvironment;
  status?: KeyStatus;
  /** The last row of the previous page. */
  after: { at: string; id: string } | null;
  limit: number;
}

/** A key of a client that is not dead, and one scope it holds (see assertCeilingHolds). */
export interface LiveKeyScope {
  key_id: string;
  scope_name: string;
}

/** The key triggers ignore last_used_at, so this invalidates no cache. */
const TOUCH_KEYS = `
  UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, u.at)
  FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE k.id = u.id`;

/**
 * The api_keys and key_scopes tables: every statement on them. Each method takes the
 * transaction's manager when it must run inside one, and uses the data source's otherwise.
 * The hot path's statements go through the raw pool as named prepared statements.
 */
@Injectable()
export class KeysRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly pool: DatabasePool,
  ) {}

  // --- the hot path: raw pool, prepared statements, no TypeORM in between ---

  /** The verifier's row for the key with this digest, if any (`keyhouse_verify`). */
  findRecordRowByDigest(digest: string): Promise<KeyRow | undefined> {
    let rows: Promise<{ rows: KeyRow[] }>;
    try {
      rows = this.pool.get().query<KeyRow>({ name: 'keyhouse_verify', text: KEY_RECORD_SQL, values: [digest] });
    } catch (err: unknown) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return rows.then((result) => result.rows[0]);
  }

  /**
   * The verifier's row for a key looked up under several digests at once (`keyhouse_verify_any`),
   * with the digest it is stored under: one query whatever the number of secrets.
   */
  findRecordRowByDigests(digests: string[]): Promise<FoundKeyRow | undefined> {
    let rows: Promise<{ rows: FoundKeyRow[] }>;
    try {
      rows = this.pool
        .get()
        .query<FoundKeyRow>({ name: 'keyhouse_verify_any', text: KEY_RECORD_ANY_SQL, values: [digests] });
    } catch (err: unknown) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return rows.then((result) => result.rows[0]);
  }

  /** Moves keys to another digest, each only if its digest is still the one it was found under; how many moved. */
  async moveDigests(moves: readonly DigestMove[]): Promise<number> {
    const result = await this.pool.get().query({
      text: REDIGEST_KEYS,
      values: [
        moves.map((m) => m.keyId),
        moves.map((m) => m.from),
        moves.map((m) => m.to),
        moves.map((m) => m.secretId),
      ],
    });
    return result.rowCount ?? 0;
  }

  /** How many keys that are not dead depend on each digest secret, by its id. */
  async countLiveBySecret(): Promise<Map<string, number>> {
    const rows = await this.dataSource.query<{ secret: string; keys: number }[]>(KEYS_BY_SECRET);
    return new Map(rows.map((r) => [r.secret, r.keys]));
  }

  /**
   * Takes one use from the head of the key's rotation chain (`keyhouse_consume_use`): true
   * when one was taken, false when none was (used up, rotated meanwhile, or no limit).
   */
  consumeUse(keyId: string): Promise<boolean> {
    return this.pool
      .get()
      .query<{ remaining: number }>({ name: 'keyhouse_consume_use', text: CONSUME_USE, values: [keyId] })
      .then((result) => result.rows.length > 0);
  }

  /** Why consumeUse took nothing (`keyhouse_use_state`); undefined when the key is gone. */
  headUseState(keyId: string): Promise<HeadUseState | undefined> {
    return this.pool
      .get()
      .query<HeadUseState>({ name: 'keyhouse_use_state', text: HEAD_STATE, values: [keyId] })
      .then((result) => result.rows[0]);
  }

  /**
   * Takes one use of a key with a usage limit: true when taken (or the key has no limit),
   * false when none is left. A rotation racing the use moves the head on, so it tries
   * again, up to MAX_USE_TRIES times.
   */
  takeUse(keyId: string, attempt = 1): Promise<boolean> {
    return this.consumeUse(keyId).then((taken) =>
      taken
        ? true
        : this.headUseState(keyId).then((head) => {
            if (head && head.remaining === null) return true;
            if (!head || (head.remaining === 0 && !head.rotated) || attempt >= MAX_USE_TRIES) return false;
            return this.takeUse(keyId, attempt + 1);
          }),
    );
  }

  /** Writes each key's last use, never moving it back (the usage flush, in its transaction). */
  async touchLastUsed(uses: readonly LastUse[], manager: EntityManager): Promise<void> {
    await manager.query(TOUCH_KEYS, [uses.map(([id]) => id), uses.map(([, at]) => new Date(at))]);
  }

  // --- the admin API ---

  /** One page of keys, newest first (one more row than `limit`, to tell whether a next page exists). */
  listPage(filter: KeyListFilter): Promise<KeyEntity[]> {
    const qb = this.dataSource.getRepository(KeyEntity).createQueryBuilder('k');
    if (filter.ownClientId) qb.andWhere('k.client_id = :own', { own: filter.ownClientId });
    if (filter.clientId) qb.andWhere('k.client_id = :clientId', { clientId: filter.clientId });
    if (filter.environment) qb.andWhere('k.environment = :environment', { environment: filter.environment });
    if (filter.status) qb.andWhere(statusCondition(filter.status));
    if (filter.after) qb.andWhere('(k.created_at, k.id) < (:at, :id)', { at: filter.after.at, id: filter.after.id });
    return qb
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(filter.limit + 1)
      .getMany();
  }

  /** The key `id`, of `clientId` when given; `forUpdate` locks its row until the transaction ends. */
  findById(
    id: string,
    options: { clientId?: string | null; forUpdate?: boolean } = {},
    manager: EntityManager = this.dataSource.manager,
  ): Promise<KeyEntity | null> {
    return manager.findOne(KeyEntity, {
      where: options.clientId ? { id, clientId: options.clientId } : { id },
      ...(options.forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** The keys among `ids` (in no particular order). */
  findByIds(ids: string[], manager: EntityManager = this.dataSource.manager): Promise<KeyEntity[]> {
    return manager.find(KeyEntity, { where: { id: In(ids) } });
  }

  /** The key with one of these digests (one per digest secret), its row locked until the transaction ends (a leak report). */
  findByDigestForUpdate(digests: string[], manager: EntityManager): Promise<KeyEntity | null> {
    return manager
      .createQueryBuilder(KeyEntity, 'k')
      .where('k.digest IN (:...digests)', { digests })
      .setLock('pessimistic_write')
      .getOne();
  }

  /** The digest of key `id` (never in an entity's default select), to drop its cache entry. */
  async digestOf(id: string, manager: EntityManager = this.dataSource.manager): Promise<string | undefined> {
    const [row] = await manager.query<{ digest: string }[]>('SELECT digest FROM api_keys WHERE id = $1', [id]);
    return row?.digest;
  }

  /** The client of key `id`, or undefined when there is no such key. */
  async clientIdOf(id: string): Promise<string | undefined> {
    const rows = await this.dataSource.query<{ client_id: string }[]>('SELECT client_id FROM api_keys WHERE id = $1', [
      id,
    ]);
    return rows[0]?.client_id;
  }

  /** Of `ids`, those that are keys of `clientId`. */
  async idsOfClientAmong(clientId: string, ids: string[]): Promise<Set<string>> {
    const keys = await this.dataSource.query<{ id: string }[]>(
      'SELECT id FROM api_keys WHERE client_id = $1 AND id = ANY($2::uuid[])',
      [clientId, ids],
    );
    return new Set(keys.map((k) => k.id));
  }

  /** Whether the client has ever had a key (revoked ones count). */
  hasAnyOfClient(clientId: string, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    return manager.exists(KeyEntity, { where: { clientId } });
  }

  /** The latest use of any key of the client, or null. */
  async lastUsedOfClient(clientId: string): Promise<Date | null> {
    const [last] = await this.dataSource.query<{ last_used_at: Date | null }[]>(
      'SELECT max(last_used_at) AS last_used_at FROM api_keys WHERE client_id = $1',
      [clientId],
    );
    return last?.last_used_at ?? null;
  }

  /** Every scope held by a key of the client that is not dead (revoked or run out), by key id then scope. */
  scopesOfLiveKeys(clientId: string, manager: EntityManager): Promise<LiveKeyScope[]> {
    return manager.query<LiveKeyScope[]>(
      `SELECT k.id AS key_id, ks.scope_name FROM api_keys k JOIN key_scopes ks ON ks.key_id = k.id
     WHERE k.client_id = $1 AND ${NOT_DEAD} ORDER BY k.id, ks.scope_name`,
      [clientId],
    );
  }

  /** Inserts a key with its scopes and reads it back as stored (defaults and timestamps filled in). */
  async insertWithScopes(fields: DeepPartial<KeyEntity>, scopes: string[], manager: EntityManager): Promise<KeyEntity> {
    const saved = await manager.save(manager.create(KeyEntity, fields));
    if (scopes.length > 0)
      await manager.insert(
        KeyScopeEntity,
        scopes.map((scopeName) => ({ keyId: saved.id, scopeName })),
      );
    return manager.findOneByOrFail(KeyEntity, { id: saved.id });
  }

  /** Writes the changed columns of a key read before. */
  save(key: KeyEntity, manager: EntityManager): Promise<KeyEntity> {
    return manager.save(key);
  }

  /** Makes `scopes` the key's whole set of scopes. */
  async replaceScopes(keyId: string, scopes: string[], manager: EntityManager): Promise<void> {
    await manager.delete(KeyScopeEntity, { keyId });
    await manager.insert(
      KeyScopeEntity,
      scopes.map((scopeName) => ({ keyId, scopeName })),
    );
  }

  /** Each key's scopes, in code-point order (whatever the database's collation); keys without scopes are absent. */
  async scopesOf(keyIds: string[], manager: EntityManager = this.dataSource.manager): Promise<Map<string, string[]>> {
    const byKey = new Map<string, string[]>();
    if (keyIds.length === 0) return byKey;
    const links = await manager.find(KeyScopeEntity, { where: { keyId: In(keyIds) } });
    for (const link of links) byKey.set(link.keyId, [...(byKey.get(link.keyId) ?? []), link.scopeName]);
    for (const [keyId, names] of byKey) byKey.set(keyId, [...names].sort());
    return byKey;
  }

  /** One key's scopes, in code-point order. */
  async scopesOfOne(keyId: string, manager: EntityManager = this.dataSource.manager): Promise<string[]> {
    return (await this.scopesOf([keyId], manager)).get(keyId) ?? [];
  }

  /** How many keys hold the scope `name` (whatever their status). */
  async countHolders(scopeName: string, manager: EntityManager): Promise<number> {
    const [{ holders }] = await manager.query<{ holders: number }[]>(
      'SELECT count(*)::int AS holders FROM key_scopes WHERE scope_name = $1',
      [scopeName],
    );
    return holders;
  }
}
