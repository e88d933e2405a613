import { DataSource } from 'typeorm';
import { KeyChangeListener } from '../../src/credentials/key-change-listener';
import { usingRedis } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';
import type { TestApp } from '../support/test-app';

const ready = (app: TestApp, listener: 'public' | 'management' = 'public') =>
  app.get('/health/ready', { key: null, listener });

/** The value of a label-less sample, or undefined when the metric is absent. */
async function gauge(app: TestApp, name: string): Promise<number | undefined> {
  const text = (await app.get('/metrics', { key: null, listener: 'management' })).raw;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('health', () => {
  const app = useTestApp();

  it('should answer liveness on both listeners without asking any dependency', async () => {
    const query = jest.spyOn(app.app.get(DataSource), 'query');
    try {
      for (const listener of ['public', 'management'] as const) {
        const res = await app.get('/health/live', { key: null, listener });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 'ok' });
      }
      expect(query).not.toHaveBeenCalled();
    } finally {
      query.mockRestore();
    }
  });

  it('should be ready, with every check up, on both listeners', async () => {
    for (const listener of ['public', 'management'] as const) {
      const res = await ready(app, listener);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: 'ok',
        down: [],
        checks: {
          database: { status: 'up', required: true },
          usage: { status: 'up', required: true, lag_seconds: expect.any(Number), failing_since: null },
          redis: { status: usingRedis ? 'up' : 'disabled', required: false },
          change_listener: { status: 'up', required: false },
        },
      });
    }
    expect(await gauge(app, 'keyhouse_change_listener_up')).toBe(1);
    expect(await gauge(app, 'keyhouse_redis_up')).toBe(usingRedis ? 1 : undefined);
  });

  it('should keep /health as it was: the database and the usage writes', async () => {
    const res = await app.get('/health', { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, usage: { status: 'up' } },
    });
  });

  it('should not be ready (503) while the database does not answer, and live all the same', async () => {
    const query = jest.spyOn(app.app.get(DataSource), 'query').mockRejectedValue(new Error('connection refused'));
    try {
      const res = await ready(app, 'management');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({
        status: 'unavailable',
        down: ['database'],
        checks: { database: { status: 'down', required: true, message: 'connection refused' } },
      });
      // The public listener says the same without the driver's message.
      const told = await ready(app, 'public');
      expect(told.status).toBe(503);
      expect(told.body.checks.database).toEqual({ status: 'down', required: true, impact: expect.any(String) });
      expect((await app.get('/health/live', { key: null })).status).toBe(200);
      expect((await app.get('/health', { key: null })).status).toBe(503);
    } finally {
      query.mockRestore();
    }
    expect((await ready(app)).status).toBe(200);
  });
});

describe('health: the change listener stopped', () => {
  const app = useTestApp();

  it('should be ready but degraded, say so, and export keyhouse_change_listener_up 0', async () => {
    expect((await ready(app)).body.status).toBe('ok');
    await app.app.get(KeyChangeListener).onModuleDestroy();
    const res = await ready(app);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'degraded',
      down: ['change_listener'],
      checks: {
        database: { status: 'up' },
        change_listener: { status: 'down', required: false, impact: expect.stringContaining('CACHE_TTL_MS') },
      },
    });
    expect(await gauge(app, 'keyhouse_change_listener_up')).toBe(0);
  });
});

describe('health: Redis down', () => {
  // A closed port: nothing ever answers there.
  const app = useTestApp({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: 100 });

  it('should be ready but degraded with redis down, export keyhouse_redis_up 0, and keep /health at 200', async () => {
    const res = await ready(app);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'degraded',
      down: ['redis'],
      checks: {
        database: { status: 'up' },
        redis: { status: 'down', required: false, impact: expect.stringContaining('per instance') },
        change_listener: { status: 'up' },
      },
    });
    expect(await gauge(app, 'keyhouse_redis_up')).toBe(0);
    expect((await app.get('/health', { key: null })).status).toBe(200);
  });
});

describe('health: no Redis configured', () => {
  const app = useTestApp({ REDIS_URL: undefined });

  it('should report redis as disabled, not down, and export no keyhouse_redis_up', async () => {
    const res = await ready(app);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.checks.redis).toEqual({ status: 'disabled', required: false });
    expect(await gauge(app, 'keyhouse_redis_up')).toBeUndefined();
  });
});
