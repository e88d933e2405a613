import { SCOPE_NAME_PATTERN } from '../common/scope-name';

export { SCOPE_NAME_PATTERN };
export const RESERVED_NAMESPACE = 'admin:';

/** Whether `text` can be a scope's name: the pattern above, at most 128 characters (the column's length). */
export function isScopeName(text: string): boolean {
  return text.length <= 128 && SCOPE_NAME_PATTERN.test(text);
}

export function scopeCovers(held: string, needed: string): boolean {
  if (held === needed) return true;
  if (!held.endsWith(':*')) return false;
  const stem = held.slice(0, -1); // keeps the trailing ':'
  return needed.length > stem.length && needed.startsWith(stem);
}

/** True when every needed scope is covered by one of the held scopes. */
export function coversAll(held: readonly string[], needed: readonly string[]): boolean {
  return needed.every((n) => held.some((h) => scopeCovers(h, n)));
}
