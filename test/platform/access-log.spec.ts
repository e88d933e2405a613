import { makeClientWithKey } from '../support/factories';
import { useTestApp } from '../support/use-test-app';

/** One `request` line per admin call at info; none for the hot path, which logs at warn. */
describe('access log', () => {
  const lines: Array<Record<string, unknown>> = [];
  const app = useTestApp(
    { LOG_LEVEL: 'info', TRUSTED_PROXIES: '127.0.0.1' },
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

  it("should carry the actor's key id and the source address, never the key", async () => {
    const reader = await makeClientWithKey(app, ['admin:keys:read']);
    lines.length = 0;
    const res = await app.get(`/v1/keys/${reader.key.id}`, {
      key: reader.key.key,
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(res.status).toBe(200);
    const [line] = requestLines();
    expect(line).toMatchObject({
      url: `/v1/keys/${reader.key.id}`,
      status: 200,
      actor_key_id: reader.key.id,
      source_ip: '203.0.113.7',
    });
    expect(JSON.stringify(lines)).not.toContain(reader.key.key);

    // No key, or one that is not good: no actor, and still the address.
    lines.length = 0;
    expect((await app.get('/v1/clients', { key: null })).status).toBe(401);
    expect(requestLines()).toEqual([
      expect.objectContaining({ status: 401, actor_key_id: null, source_ip: '127.0.0.1' }),
    ]);
  });

  it('should write ISO 8601 timestamps and level names', async () => {
    lines.length = 0;
    await app.get('/v1/clients', { query: { limit: '1' } });
    const [line] = requestLines();
    expect(line.level).toBe('info');
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(line.time as string) - Date.now())).toBeLessThan(60_000);
  });

  it('should write none for introspection and forward auth', async () => {
    const service = await makeClientWithKey(app, ['admin:introspect']);
    lines.length = 0;
    expect((await app.post('/v1/introspect', { token: service.key.key }, { key: service.key.key })).status).toBe(200);
    expect((await app.get('/v1/authorize', { key: service.key.key })).status).toBe(204);
    expect(requestLines()).toEqual([]);
  });
});
