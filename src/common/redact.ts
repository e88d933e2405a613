/**
 * Anything shaped like a Keyhouse key: its prefix (in any case) and the base62 after it, or
 * a base62 run as long as a key's body without one. Nothing the service itself writes has
 * such a run (ids are UUIDs), so only text a caller sent is touched.
 */
const KEY_LIKE = /sk_(?:live|test)_[0-9A-Za-z]*|[0-9A-Za-z]{40,}/gi;

/** `text` with every key-shaped part replaced: for URLs and field names a caller sent, before they are echoed or logged. */
export function redactKeys(text: string): string {
  KEY_LIKE.lastIndex = 0;
  return KEY_LIKE.test(text) ? text.replace(KEY_LIKE, '[redacted]') : text;
}
