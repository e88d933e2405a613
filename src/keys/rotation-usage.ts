import type { EntityManager } from 'typeorm';
import type { UsageRepository } from '../store/usage.repository';
import type { UsedSinceRotationResponse } from './dto/used-since-rotation.response';

interface RotatedKey {
  id: string;
  replacedBy: string | null;
}

/**
 * For each rotated key among `keys`, its use since the rotation. The rotation time is
 * the successor's creation; usage is summed from the start of that UTC hour, since
 * buckets are hourly (so calls up to an hour before the rotation may be included).
 * Keys never rotated cost no query.
 */
export async function usedSinceRotation(
  usage: UsageRepository,
  keys: readonly RotatedKey[],
  manager?: EntityManager,
): Promise<Map<string, UsedSinceRotationResponse>> {
  const rotated = keys.filter((k) => k.replacedBy !== null).map((k) => k.id);
  const result = new Map<string, UsedSinceRotationResponse>();
  if (rotated.length === 0) return result;
  for (const row of await usage.usedSinceRotation(rotated, manager)) {
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
