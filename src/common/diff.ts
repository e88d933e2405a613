import { canonicalJson } from './canonical-json';

/** The fields whose values differ, as `{field: {from, to}}`: the "what changed" of an audit event. */
export function diff<T extends Record<string, unknown>>(
  before: T,
  after: T,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of Object.keys(after)) {
    if (canonicalJson(before[field]) !== canonicalJson(after[field]))
      changes[field] = { from: before[field] ?? null, to: after[field] ?? null };
  }
  return changes;
}
