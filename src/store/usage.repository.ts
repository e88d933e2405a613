import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** One usage bucket to add to: a key, the start of its UTC hour, an outcome and how many calls. */
export interface UsageCount {
  keyId: string;
  bucket: number;
  outcome: string;
  count: number;
}

/** Calls per bucket start (or per key) and outcome, summed; `count` as text (bigint). */
export interface CountRow {
  start?: Date;
  key_id?: string;
  outcome: string;
  count: string;
}

/** The bucket size a usage query sums by. */
export type BucketSize = 'hour' | 'day';

/** A rotated key's use since the rotation, as stored (see usedSinceRotation). */
export interface RotationUsageRow {
  id: string;
  rotated_at: Date;
  counted_from: Date;
  last_used_at: Date | null;
  count: string;
}

const UPSERT_BUCKETS = `
  INSERT INTO usage_buckets (key_id, bucket_start, outcome, count)
  SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::varchar[], $4::bigint[])
  ON CONFLICT (key_id, bucket_start, outcome) DO UPDATE SET count = usage_buckets.count + EXCLUDED.count`;

/** Bucket starts in UTC whatever the session's time zone, so a day is a UTC day. */
const BUCKET_SQL = `date_trunc($4::text, u.bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

/** The usage_buckets table: the hot path's counts, flushed in batches, and the reads over them. */
@Injectable()
export class UsageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Adds `counts` to their buckets; concurrent instances add to the same rows. Callers
   * pass rows in one order so two flushes cannot deadlock each other.
   */
  async addCounts(counts: readonly UsageCount[], manager: EntityManager): Promise<void> {
    await manager.query(UPSERT_BUCKETS, [
      counts.map((r) => r.keyId),
      counts.map((r) => new Date(r.bucket)),
      counts.map((r) => r.outcome),
      counts.map((r) => r.count),
    ]);
  }

  /** The key's calls in [from, to), per bucket of `size` and outcome, in bucket order. */
  countsOfKey(keyId: string, from: Date, to: Date, size: BucketSize): Promise<CountRow[]> {
    return this.dataSource.query<CountRow[]>(
      `SELECT ${BUCKET_SQL} AS start, u.outcome, sum(u.count)::text AS count
       FROM usage_buckets u WHERE u.key_id = $1 AND u.bucket_start >= $2 AND u.bucket_start < $3
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [keyId, from, to, size],
    );
  }

  /** The calls of all the client's keys in [from, to): per bucket of `size` and outcome, and per key and outcome. */
  async countsOfClient(
    clientId: string,
    from: Date,
    to: Date,
    size: BucketSize,
  ): Promise<{ buckets: CountRow[]; perKey: CountRow[] }> {
    const params = [clientId, from, to];
    const inRange = `FROM usage_buckets u JOIN api_keys k ON k.id = u.key_id
       WHERE k.client_id = $1 AND u.bucket_start >= $2 AND u.bucket_start < $3`;
    const [buckets, perKey] = await Promise.all([
      this.dataSource.query<CountRow[]>(
        `SELECT ${BUCKET_SQL} AS start, u.outcome, sum(u.count)::text AS count ${inRange} GROUP BY 1, 2 ORDER BY 1, 2`,
        [...params, size],
      ),
      this.dataSource.query<CountRow[]>(
        `SELECT u.key_id, u.outcome, sum(u.count)::text AS count ${inRange} GROUP BY 1, 2`,
        params,
      ),
    ]);
    return { buckets, perKey };
  }

  /**
   * For each rotated key among `ids`, its successor's creation, the start of that UTC hour
   * and its last use, with its calls summed since that hour (buckets are hourly).
   */
  usedSinceRotation(ids: string[], manager: EntityManager = this.dataSource.manager): Promise<RotationUsageRow[]> {
    return manager.query<RotationUsageRow[]>(
      `SELECT k.id, s.created_at AS rotated_at, r.counted_from, k.last_used_at,
            (SELECT coalesce(sum(u.count), 0)::text FROM usage_buckets u WHERE u.key_id = k.id AND u.bucket_start >= r.counted_from) AS count
     FROM api_keys k
     JOIN api_keys s ON s.id = k.replaced_by
     CROSS JOIN LATERAL (SELECT date_trunc('hour', s.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS counted_from) r
     WHERE k.id = ANY($1::uuid[])`,
      [ids],
    );
  }
}
