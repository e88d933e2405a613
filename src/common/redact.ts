/**
 * Anything shaped like a Keyhouse key or a good part of one: its prefix (in any case) and
 * 16 or more base62 characters after it, or a base62 run of 40 without one. Nothing the
 * service itself writes has such a run (ids are UUIDs), so only text a caller sent is touched.
 */
const KEY_LIKE = /sk_(?:live|test)_[0-9A-Za-z]{16,}|[0-9A-Za-z]{40,}/gi;

/** `text` with every key-shaped part replaced: for URLs and field names a caller sent, before they are echoed or logged. */
export function redactKeys(text: string): string {
  KEY_LIKE.lastIndex = 0;
  return KEY_LIKE.test(text) ? text.replace(KEY_LIKE, '[redacted]') : text;
}
