/** Request headers as Node.js gives them: lower-case names. */
export type KeyHeaders = Record<string, string | string[] | undefined>;

/** Which header carried the key, so a middleware can remove it before the handler runs. */
export interface ExtractedKey {
  key: string;
  header: 'authorization' | 'x-api-key';
}

/**
 * Reads a key as Keyhouse itself does (the service imports this function): from
 * `Authorization: Bearer <key>`, from `Authorization: Basic` (RFC 7617) as RFC 7662 clients
 * authenticate (client_secret_basic: the key as the password, under any user name) or as
 * `curl -u key:` sends it (the key as the user name, no password), or from `X-API-Key: <key>`.
 */
export function presentedKey(headers: KeyHeaders): string | null {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (bearer) return bearer[1];
    const basic = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
    if (basic) return basicCredential(basic[1]);
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : null;
}

/** The key and the header it came in, or `null` when the request carries none. */
export function extractKey(headers: KeyHeaders): ExtractedKey | null {
  const key = presentedKey(headers);
  if (!key) return null;
  const authorization = headers.authorization;
  const fromAuthorization = typeof authorization === 'string' && /^(Bearer|Basic)[ \t]/i.test(authorization);
  return { key, header: fromAuthorization ? 'authorization' : 'x-api-key' };
}

function basicCredential(encoded: string): string | null {
  const pair = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon < 0) return null;
  const secret = formDecoded(pair.slice(colon + 1) || pair.slice(0, colon));
  return secret ? secret : null;
}

/**
 * RFC 6749 §2.3.1: a client form-urlencodes its id and secret before Basic encoding them, so
 * `sk_live_…` may arrive as `sk%5Flive%5F…`. A key has no `%` or `+` of its own, so a key sent
 * unencoded (`curl -u key:`) decodes to itself. Bad percent-encoding is no credential.
 */
function formDecoded(text: string): string | null {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return null;
  }
}
