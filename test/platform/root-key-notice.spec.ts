import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '../../src/config/config';
import { generateKey, keyHint, parseKey } from '../../src/credentials/key-format';
import { rootKeyNotice } from '../../src/keys/root-key.bootstrap';
import { TestApp, usingPostgres } from '../support/test-app';
import { createThrowawayDatabase } from '../support/throwaway-database';

/**
 * The first start without BOOTSTRAP_ROOT_KEY generates the root key and shows it once: a box of its
 * own on standard error, never a JSON log line (the log line names where it went), and never again.
 */
describe(`the generated root key (${usingPostgres ? 'PostgreSQL' : 'embedded database in a folder'})`, () => {
  let folder: string;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let overrides: Partial<AppConfig>;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'keyhouse-root-key-'));
    database = usingPostgres ? await createThrowawayDatabase(process.env.DATABASE_URL!) : undefined;
    overrides = {
      BOOTSTRAP_ROOT_KEY: undefined,
      LOG_LEVEL: 'info',
      ...(database ? { DATABASE_URL: database.url } : { DATA_DIR: join(folder, 'data') }),
    };
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  /** Starts (and closes) the service on the suite's fresh database, capturing the log, stdout and stderr. */
  async function start(
    extra: Partial<AppConfig> = {},
  ): Promise<{ app: TestApp; log: string[]; stdout: string; stderr: string }> {
    const log: string[] = [];
    const out = { stdout: '', stderr: '' };
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.stdout += String(chunk);
      return true;
    });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      out.stderr += String(chunk);
      return true;
    });
    try {
      const app = await TestApp.start(
        { ...overrides, ...extra },
        { logDestination: { write: (line: string) => void log.push(line) } },
      );
      return { app, log, ...out };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it('should show it boxed on standard error once, keep it out of the JSON log, and not show it on the next start', async () => {
    const first = await start();
    let key: string | undefined;
    try {
      key = /^\| (sk_live_[0-9A-Za-z]{49}) +\|$/m.exec(first.stderr)?.[1];
      expect(key).toBeDefined();
      expect(parseKey(key!)?.environment).toBe('live');
      const block = rootKeyNotice(key!);
      expect(first.stderr).toContain(block);
      expect(first.stderr.match(/sk_live_/g)).toHaveLength(1);
      // Its own block: blank lines around a frame whose lines are all as wide as each other.
      expect(block).toMatch(/^\n\+.*\+\n\n$/s);
      const frame = block.trim().split('\n');
      expect(frame[0]).toMatch(/^\+-+\+$/);
      expect(frame.at(-1)).toBe(frame[0]);
      expect(new Set(frame.map((l) => l.length)).size).toBe(1);
      expect(block).toContain('shown this once, never again');
      expect(block).toContain('Authorization: Bearer <key>');
      // The log says where it went, and never holds it; nor does standard output.
      const registered = first.log.map((l) => JSON.parse(l)).find((l) => /^root key .* registered/.test(l.msg));
      expect(registered.msg).toMatch(/registered \(generated\): printed once, in a box on standard error/);
      expect(first.log.join('')).not.toContain(key);
      expect(first.stdout).not.toContain(key);
      // It is the root key.
      const clients = await first.app.call('GET', '/v1/clients', { key });
      expect(clients.status).toBe(200);
    } finally {
      await first.app.close();
    }

    const again = await start();
    try {
      expect(again.stderr).not.toMatch(/sk_live_|ROOT KEY/);
      expect(again.log.join('')).not.toMatch(/root key .* registered/);
      expect((await again.app.call('GET', '/v1/clients', { key })).status).toBe(200);
    } finally {
      await again.app.close();
    }

    // A BOOTSTRAP_ROOT_KEY set after the root key exists does nothing: the start says so, by hint only.
    const late = generateKey('live');
    const ignored = await start({ BOOTSTRAP_ROOT_KEY: late });
    try {
      const warning = ignored.log.map((l) => JSON.parse(l)).find((l) => /BOOTSTRAP_ROOT_KEY/.test(l.msg));
      expect(warning).toMatchObject({ level: 'warn', msg: expect.stringContaining(`${keyHint(late)} is ignored`) });
      expect(ignored.log.join('') + ignored.stderr + ignored.stdout).not.toContain(late);
      expect((await ignored.app.call('GET', '/v1/clients', { key: late })).status).toBe(401);
    } finally {
      await ignored.app.close();
    }
    // The registered root key given again (every instance of a deployment configured alike): no warning.
    const same = await start({ BOOTSTRAP_ROOT_KEY: key });
    try {
      expect(same.log.join('')).not.toContain('BOOTSTRAP_ROOT_KEY');
    } finally {
      await same.app.close();
    }
  }, 300_000);
});
