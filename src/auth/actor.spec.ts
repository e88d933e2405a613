import { generateKey } from '../credentials/key-format';
import { presentedKey } from './actor';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/**
 * client_secret_basic as RFC 6749 §2.3.1 and Appendix B have it, and as oauth4webapi sends it:
 * each of id and secret form-urlencoded (every character but letters and digits
 * percent-encoded, a space as +), then joined by a colon and Base64-encoded.
 */
const formEncoded = (text: string) =>
  encodeURIComponent(text).replace(/[-_.!~*'()]|%20/g, (c) =>
    c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
const clientSecretBasic = (id: string, secret: string) => basic(formEncoded(id), formEncoded(secret));

describe('presentedKey', () => {
  const key = generateKey('live');

  it.each([
    ['a bearer token', { authorization: `Bearer ${key}` }],
    ['a bearer token with odd case and spacing', { authorization: `bearer \t${key} ` }],
    ['Basic with the key as the password (RFC 7662 clients)', { authorization: basic('orders-api', key) }],
    ['Basic with the key as the user name and no password (curl -u key:)', { authorization: basic(key, '') }],
    [
      'Basic, form-urlencoded before Base64 as RFC 6749 §2.3.1 says',
      { authorization: clientSecretBasic('orders api:v2', key) },
    ],
    ['Basic, the key form-urlencoded as the user name and no password', { authorization: clientSecretBasic(key, '') }],
    ['Basic, lower-case percent-encoding', { authorization: basic('orders-api', key.replaceAll('_', '%5f')) }],
    ['X-API-Key', { 'x-api-key': ` ${key} ` }],
  ])('should read the key from %s', (_, headers) => {
    expect(presentedKey(headers)).toBe(key);
  });

  it.each([
    ['no credentials', {}],
    ['an empty Basic pair', { authorization: basic('', '') }],
    ['Basic without a colon', { authorization: `Basic ${Buffer.from(key).toString('base64')}` }],
    ['Basic that is not base64', { authorization: 'Basic !!!' }],
    ['another scheme', { authorization: `Digest ${key}` }],
    ['Basic with bad percent-encoding', { authorization: basic('orders-api', `${key}%E0%A4%A`) }],
    ['a bearer token with a space inside', { authorization: `Bearer ${key} extra` }],
  ])('should find no key in %s', (_, headers) => {
    expect(presentedKey(headers)).toBeNull();
  });
});
