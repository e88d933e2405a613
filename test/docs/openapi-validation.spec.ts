import { checkResponse, Exchange, NOT_YET_DOCUMENTED } from '../support/openapi-validation';

/** The response check every integration suite relies on must itself refuse what the document does not say. */
const scope = { name: 'orders:read', description: 'Read orders', created_at: '2026-01-01T12:00:00.000Z' };

function exchange(overrides: Partial<Exchange> & { body?: unknown }): Exchange {
  const { body, ...rest } = overrides;
  return {
    method: 'GET',
    url: '/v1/scopes?limit=1',
    requestHeaders: {},
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'r-1' },
    raw: JSON.stringify(body ?? { data: [scope], next_cursor: null }),
    ...rest,
  };
}

const problem = (status: number) => ({
  type: 'urn:keyhouse:problem:x',
  title: 'X',
  status,
  instance: '/v1/x',
  request_id: 'r-1',
});
const problemHeaders = { 'content-type': 'application/problem+json; charset=utf-8', 'x-request-id': 'r-1' };

describe('checkResponse', () => {
  it('should accept a documented response', () => {
    expect(() => checkResponse(exchange({}))).not.toThrow();
    expect(() =>
      checkResponse(
        exchange({
          url: '/v1/scopes/orders:read',
          method: 'DELETE',
          status: 204,
          headers: { 'x-request-id': 'r-1' },
          raw: '',
        }),
      ),
    ).not.toThrow();
  });

  it.each([
    ['an undocumented status', exchange({ status: 418 }), /documented statuses are/],
    [
      'an undocumented field',
      exchange({ body: { data: [{ ...scope, secret: 'x' }], next_cursor: null } }),
      /secret, which the document does not list/,
    ],
    ['a missing required field', exchange({ body: { data: [scope] } }), /next_cursor/],
    ['a wrong type', exchange({ body: { data: [{ ...scope, name: 42 }], next_cursor: null } }), /must be string/],
    [
      'a time that is not RFC 3339',
      exchange({ body: { data: [{ ...scope, created_at: 'yesterday' }], next_cursor: null } }),
      /date-time/,
    ],
    [
      'a problem sent as plain JSON',
      exchange({ status: 401, body: problem(401) }),
      /content type application\/json is not one of application\/problem\+json/,
    ],
    [
      'a body where the document has none',
      exchange({ url: '/v1/scopes/orders:read', method: 'DELETE', status: 204 }),
      /no body/,
    ],
    ['no X-Request-Id', exchange({ headers: { 'content-type': 'application/json' } }), /X-Request-Id is missing/],
    [
      'a 503 problem without Retry-After',
      exchange({ status: 503, headers: problemHeaders, body: problem(503) }),
      /Retry-After is missing/,
    ],
    [
      'an unknown route answering anything but a 404 problem',
      exchange({ url: '/v1/nothing', status: 200 }),
      /\/v1\/nothing answered 200/,
    ],
    ['a method the path does not have', exchange({ method: 'PUT', status: 200 }), /PUT \/v1\/scopes answered 200/],
  ])('should refuse %s', (_, bad, message) => {
    expect(() => checkResponse(bad)).toThrow(message);
  });

  it('should accept the unknown-route problem for a path the API does not have', () => {
    expect(() =>
      checkResponse(exchange({ url: '/v1/nothing', status: 404, headers: problemHeaders, body: problem(404) })),
    ).not.toThrow();
  });

  it('should skip only the endpoints listed as not yet documented', () => {
    for (const path of NOT_YET_DOCUMENTED)
      expect(() => checkResponse(exchange({ url: path, status: 599 }))).not.toThrow();
    expect(NOT_YET_DOCUMENTED.every((path) => path.startsWith('/v1/'))).toBe(true);
  });
});
