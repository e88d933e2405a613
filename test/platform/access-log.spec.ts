import { makeClientWithKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

/** One `request` line per admin call at info; none for the hot path, which logs at warn. */
describe('access log', () => {
  const lines: Array<Record<string, unknown>> = [];
  const app = useTestApp(
    { LOG_LEVEL: 'info' },
    { logDestination: { write: (line: string) => void lines.push(JSON.parse(line)) } },
  );

  const requestLines = () => lines.filter((l) => l.msg === 'request');

  it('should write one line per admin call with its method, path, status and request id', async () => {
    lines.length = 0;
    const res = await app.get('/v1/clients', { query: { limit: '1' } });
    expect(res.status).toBe(200);
    expect(requestLines()).toEqual([
      expect.objectContaining({
        method: 'GET',
        url: '/v1/clients',
        status: 200,
        request_id: res.headers['x-request-id'],
      }),
    ]);
  });

  it('should write none for introspection and forward auth', async () => {
    const service = await makeClientWithKey(app, ['admin:introspect']);
    lines.length = 0;
    expect((await app.post('/v1/introspect', { token: service.key.key }, { key: service.key.key })).status).toBe(200);
    expect((await app.get('/v1/authorize', { key: service.key.key })).status).toBe(204);
    expect(requestLines()).toEqual([]);
  });
});
