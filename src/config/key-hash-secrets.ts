import { estimatedBits, MIN_SECRET_BITS } from './secret-strength';

/** One secret of the key digests, and the id stored with every key digested under it. */
export interface KeyHashSecret {
  id: string;
  secret: string;
}

/** The id of the one-secret form (KEY_HASH_SECRET, or the secret the embedded default generates). */
export const SINGLE_SECRET_ID = 'initial';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const MIN_SECRET_LENGTH = 32;

/** What is wrong with a secret, said after its name; null when it will do. Never repeats the secret. */
export function secretProblem(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters`;
  if (estimatedBits(secret) < MIN_SECRET_BITS)
    return `is not random enough (repeated or sequential characters; at least ${MIN_SECRET_BITS} bits estimated): generate one with openssl rand -base64 48`;
  return null;
}

/** The entries of a KEY_HASH_SECRETS value, `<id>:<secret>` separated by commas, as written. */
function entries(value: string): { id: string; secret: string | undefined }[] {
  return value.split(',').map((entry) => {
    const colon = entry.indexOf(':');
    return colon < 0
      ? { id: entry.trim(), secret: undefined }
      : { id: entry.slice(0, colon).trim(), secret: entry.slice(colon + 1).trim() };
  });
}

/** What is wrong with a KEY_HASH_SECRETS value, naming the entry by position and id, never by its secret. */
export function secretListProblem(value: string): string | null {
  const seen = new Map<string, number>();
  const secrets = new Set<string>();
  const list = entries(value);
  for (const [index, { id, secret }] of list.entries()) {
    // Without a colon the whole entry may be a secret: then it is named by position alone.
    const entry = `entry ${index + 1}${secret !== undefined && ID_PATTERN.test(id) ? ` (${id})` : ''}`;
    if (secret === undefined) return `${entry} must be <id>:<secret> (for example 2026b:$(openssl rand -base64 48))`;
    if (!ID_PATTERN.test(id))
      return `${entry} has an id that is not 1 to 32 letters, digits, '.', '_' or '-' (starting with a letter or digit)`;
    if (seen.has(id)) return `${entry} repeats the id of entry ${seen.get(id)! + 1}`;
    seen.set(id, index);
    const problem = secretProblem(secret);
    if (problem) return `${entry}: the secret ${problem}`;
    if (secrets.has(secret)) return `${entry} repeats the secret of an earlier entry`;
    secrets.add(secret);
  }
  return null;
}

/**
 * The digest secrets in order of preference: the first digests new keys, the rest still
 * verify (a key found under one of them is moved to the first). KEY_HASH_SECRETS when set,
 * else KEY_HASH_SECRET (or `fallback`, the embedded default's generated secret) under the id
 * `initial`. Expects a validated configuration.
 */
export function keyHashSecrets(
  env: { KEY_HASH_SECRET?: string; KEY_HASH_SECRETS?: string },
  fallback?: () => string,
): KeyHashSecret[] {
  if (env.KEY_HASH_SECRETS)
    return entries(env.KEY_HASH_SECRETS).map(({ id, secret }) => ({ id, secret: secret ?? '' }));
  const single = env.KEY_HASH_SECRET ?? fallback?.();
  if (single === undefined) throw new Error('no key digest secret is configured');
  return [{ id: SINGLE_SECRET_ID, secret: single }];
}
