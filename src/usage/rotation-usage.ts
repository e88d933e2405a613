import type { EntityManager } from 'typeorm';
import type { UsedSinceRotationResponse } from './dto/used-since-rotation.response';

interface RotatedKey {
  id: string;
  replacedBy: string | null;
}

interface Row {
  id: string;
  rotated_at: Date;
  counted_from: Date;
  last_used_at: Date | null;
  count: string;
}

/**
 * For each rotated key among `keys`, its use since the rotation. The rotation time is
 * the successor's creation; usage is summed from the start of that UTC hour, since
 * buckets are hourly (so calls up to an hour before the rotation may be included).
 * Keys never rotated cost no query.
 */
export async function usedSinceRotation(
  manager: EntityManager,
  keys: readonly RotatedKey[],
): Promise<Map<string, UsedSinceRotationResponse>> {
  const rotated = keys.filter((k) => k.replacedBy !== null).map((k) => k.id);
  const result = new Map<string, UsedSinceRotationResponse>();
  if (rotated.length === 0) return result;
  const rows = await manager.query<Row[]>(
    `SELECT k.id, s.created_at AS rotated_at, r.counted_from, k.last_used_at,
            (SELECT coalesce(sum(u.count), 0)::text FROM usage_buckets u WHERE u.key_id = k.id AND u.bucket_start >= r.counted_from) AS count
     FROM api_keys k
     JOIN api_keys s ON s.id = k.replaced_by
     CROSS JOIN LATERAL (SELECT date_trunc('hour', s.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS counted_from) r
     WHERE k.id = ANY($1::uuid[])`,
    [rotated],
  );
  for (const row of rows) {
    const rotatedAt = new Date(row.rotated_at);
    const lastUsed = row.last_used_at ? new Date(row.last_used_at) : null;
    result.set(row.id, {
      rotated_at: rotatedAt.toISOString(),
      counted_from: new Date(row.counted_from).toISOString(),
      count: Number(row.count),
      last_used_at: lastUsed && lastUsed >= rotatedAt ? lastUsed.toISOString() : null,
    });
  }
  return result;
}
