import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildService } from '../support/service-process';

/**
 * The production build refuses a bad configuration as an operator sees it: exit status 78
 * (EX_CONFIG), every bad variable on a line of stderr that names it, no stack trace, and
 * nothing started (no database folder written). A misspelt variable is a warning.
 */
describe('the service started with bad variables', () => {
  let build: { folder: string; main: string };
  let cwd: string;

  beforeAll(async () => {
    build = await buildService('config-refusal');
    cwd = mkdtempSync(join(tmpdir(), 'keyhouse-config-'));
  }, 180_000);

  afterAll(() => {
    rmSync(build.folder, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [build.main], {
        cwd,
        env: {
          PATH: process.env.PATH ?? '',
          DATA_DIR: join(cwd, 'data'),
          HOST: '127.0.0.1',
          MANAGEMENT_PORT: '0',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // A service that starts anyway would never exit: bounded, and killed so the test fails on the code.
      const stop = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', (code) => {
        clearTimeout(stop);
        done({ code, stderr, stdout });
      });
    });
  }

  it('should exit 78 listing every bad variable, one line each, without a stack, and warn about a misspelt one', async () => {
    const { code, stderr, stdout } = await run({
      PORT: 'abc',
      TRUSTED_PROXIES: '10.0.0.0/99',
      BOOTSTRAP_ROOT_KEY: 'hello',
      CORS_ORIGINS: 'https://console.example.com/',
      KEY_HASH_SECRETS: 'hunter2hunter2',
      PORTT: '9000',
    });
    expect(code).toBe(78);
    expect(stdout).toBe('');
    expect(stderr).toContain('Warning: PORTT is not a Keyhouse variable and is ignored: did you mean PORT?');
    expect(stderr).toContain('Invalid configuration:');
    const lines = stderr.split('\n').filter((l) => l.startsWith('  '));
    expect(lines).toEqual([
      '  PORT: PORT must be an integer from 0 to 65535',
      '  KEY_HASH_SECRETS: KEY_HASH_SECRETS entry 1 must be <id>:<secret> (for example 2026b:$(openssl rand -base64 48))',
      '  BOOTSTRAP_ROOT_KEY: BOOTSTRAP_ROOT_KEY is not a well-formed Keyhouse key (make one with `npm run keygen`)',
      expect.stringMatching(
        /^ {2}TRUSTED_PROXIES: TRUSTED_PROXIES has "10.0.0.0\/99", which is not an IPv4 or IPv6 address or CIDR/,
      ),
      expect.stringMatching(
        /^ {2}CORS_ORIGINS: CORS_ORIGINS has "https:\/\/console.example.com\/", which is not an origin/,
      ),
    ]);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('hunter2');
  }, 60_000);

  it('should exit 78 on a bad TRUSTED_PROXIES alone, before anything starts', async () => {
    const { code, stderr } = await run({ PORT: '0', TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/99' });
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([
      'Invalid configuration:',
      expect.stringMatching(/^ {2}TRUSTED_PROXIES: TRUSTED_PROXIES has "10.0.0.0\/99"/),
    ]);
    expect(() => rmSync(join(cwd, 'data'), { recursive: false })).toThrow(/ENOENT/);
  }, 60_000);
});
