/**
 * Anything shaped like a Keyhouse key or a good part of one: its prefix (in any case) and
 * 16 or more base62 characters after it, or a base62 run of 40 without one. Nothing the
 * service itself writes has such a run (ids are UUIDs), so only text a caller sent is touched.
 */
const KEY_LIKE = /sk_(?:live|test)_[0-9A-Za-z]{16,}|[0-9A-Za-z]{40,}/gi;

/** A key keeps its prefix (`sk_live_[redacted]`), so a reader still sees a key was there; any other run becomes `[redacted]`. */
const redacted = (match: string) => (/^sk_/i.test(match) ? `${match.slice(0, 8)}[redacted]` : '[redacted]');

/**
 * `text` with every key-shaped part replaced: the one scrubber for whatever a caller sent that is
 * echoed, stored or logged (URLs, field names, reasons, names, descriptions, metadata).
 */
export function redactKeys(text: string): string {
  KEY_LIKE.lastIndex = 0;
  return KEY_LIKE.test(text) ? text.replace(KEY_LIKE, redacted) : text;
}

/** `value` with every string in it (object keys included) scrubbed by {@link redactKeys}; anything else as it is. */
export function redactKeysIn<T>(value: T): T {
  return scrub(value) as T;
}

function scrub(value: unknown): unknown {
  if (typeof value === 'string') return redactKeys(value);
  if (Array.isArray(value)) return value.map(scrub);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactKeys(k), scrub(v)]));
}
