import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

/**
 * A failing statement is logged by the service's JSON logger, never as TypeORM's raw
 * console lines, and without its parameters (key digests among them), whether the
 * error's message or its detail would repeat them.
 */
describe(`database errors in the log (${usingPostgres ? 'PostgreSQL' : 'embedded database'})`, () => {
  const lines: string[] = [];
  const raw: string[] = [];
  const spies: jest.SpyInstance[] = [];
  const app = useTestApp({ LOG_LEVEL: 'info' }, { logDestination: { write: (line: string) => void lines.push(line) } });
  beforeEach(() => {
    lines.length = 0;
    raw.length = 0;
    for (const method of ['log', 'info', 'warn', 'error'] as const)
      spies.push(jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void raw.push(args.join(' '))));
    spies.push(
      jest
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk: string | Uint8Array) => (raw.push(String(chunk)), true)),
    );
  });
  afterEach(() => {
    for (const spy of spies.splice(0)) spy.mockRestore();
  });

  const digest = () => createHash('sha256').update(randomBytes(32)).digest('hex');

  it.each([
    [
      'whose message repeats a parameter',
      (db: DataSource, secret: string) => db.query('SELECT $1::uuid AS id', [secret]),
    ],
    [
      'whose detail repeats a parameter (a unique violation)',
      async (db: DataSource, secret: string) => {
        await db.query('INSERT INTO scopes (name, description) VALUES ($1, $2)', [`x:${secret}`, secret]);
        await db.query('INSERT INTO scopes (name, description) VALUES ($1, $2)', [`x:${secret}`, secret]);
      },
    ],
  ])('should log a failed statement %s as one JSON line without the parameters', async (_, run) => {
    const secret = digest();
    await expect(run(app.app.get(DataSource), secret)).rejects.toThrow();
    const failed = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'query failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', component: 'database', query: expect.stringContaining('$1') });
    expect(typeof failed[0].error).toBe('string');
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    expect(raw).toEqual([]);
  });
});
