import { generateKey } from '../credentials/key-format';
import { presentedKey } from './actor';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('presentedKey', () => {
  const key = generateKey('live');

  it.each([
    ['a bearer token', { authorization: `Bearer ${key}` }],
    ['a bearer token with odd case and spacing', { authorization: `bearer \t${key} ` }],
    ['Basic with the key as the password (RFC 7662 clients)', { authorization: basic('orders-api', key) }],
    ['Basic with the key as the user name and no password (curl -u key:)', { authorization: basic(key, '') }],
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
    ['a bearer token with a space inside', { authorization: `Bearer ${key} extra` }],
  ])('should find no key in %s', (_, headers) => {
    expect(presentedKey(headers)).toBeNull();
  });
});
