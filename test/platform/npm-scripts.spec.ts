import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseKey } from '../../src/credentials/key-format';
import { checkoutFiles, ROOT, scratchCopy } from '../support/scratch-copy';
import { freePort } from '../support/service-process';

/**
 * `npm start`, `npm run start:prod` and `npm run keygen` as an operator runs them, in a copy of the checkout
 * (so that building it races nothing else in the tree). A process manager signals npm, or npm's whole
 * process group; either way the service must stop gracefully and the signalled npm exit 0.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class NpmRun {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  /** `npm <args>` in `cwd`, in a process group of its own; resolves once `/health` answers 200. */
  static async start(cwd: string, args: string[], env: Record<string, string>): Promise<NpmRun> {
    const port = await freePort();
    const child = spawn('npm', args, {
      cwd,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
        MANAGEMENT_PORT: '0', // any free port: parallel suites must not meet on 9464
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = new NpmRun(child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 240_000; // `npm start` may build first
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`npm ${args.join(' ')} exited with ${child.exitCode}:\n${run.output}`);
      if (Date.now() > deadline) throw new Error(`npm ${args.join(' ')} did not start the service:\n${run.output}`);
      if (await run.answers()) return run;
      await sleep(200);
    }
  }

  answers(): Promise<boolean> {
    return fetch(`${this.url}/health`).then(
      (r) => r.ok,
      () => false,
    );
  }

  /** The processes of npm's group still alive (the group is npm's pid). */
  groupAlive(): boolean {
    try {
      process.kill(-this.child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  }

  kill(): void {
    if (this.groupAlive()) process.kill(-this.child.pid!, 'SIGKILL');
  }
}

describe('npm scripts', () => {
  let work: string;
  const runs: NpmRun[] = [];
  const env = () => ({ DATA_DIR: join(work, 'data'), BOOTSTRAP_ROOT_KEY: process.env.KEYHOUSE_TEST_ROOT_KEY! });

  beforeAll(() => {
    // What building and starting take (the service, the client package's sources it imports, the console;
    // no tests, docs or bench); node_modules is the checkout's own.
    const wanted =
      /^(src|migrations|scripts|console|packages\/client\/src)\/|^(package(-lock)?\.json|tsconfig(\.build)?\.json|nest-cli\.json)$/;
    work = scratchCopy(
      'npm-scripts',
      checkoutFiles().filter((f) => wanted.test(f) && !f.endsWith('.spec.ts')),
    );
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  });
  afterAll(() => {
    for (const run of runs) run.kill();
    rmSync(work, { recursive: true, force: true });
  });

  async function stopsOnSignal(run: NpmRun, signal: NodeJS.Signals, toGroup: boolean): Promise<void> {
    process.kill(toGroup ? -run.child.pid! : run.child.pid!, signal);
    const { code, signal: killedBy } = await run.exited;
    // npm exits when the one process under it has; nothing of the group may linger, nor answer.
    const deadline = Date.now() + 10_000;
    while (run.groupAlive() && Date.now() < deadline) await sleep(100);
    expect({ code, killedBy, lingering: run.groupAlive(), answers: await run.answers() }).toEqual({
      code: 0,
      killedBy: null,
      lingering: false,
      answers: false,
    });
    expect(run.output).toContain(`"msg":"${signal} received: shutting down`);
    expect(run.output).toMatch(/"msg":"shutdown complete in \d+ ms: exiting 0"/);
    expect(run.output.match(/received: shutting down/g)).toHaveLength(1);
    expect(run.output).not.toMatch(/"level":(50|60)/);
  }

  it('should build on `npm start` when dist/ is missing, and stop the service, exit 0, on SIGTERM sent to npm', async () => {
    expect(existsSync(join(work, 'dist'))).toBe(false);
    const run = await NpmRun.start(work, ['start'], env());
    runs.push(run);
    expect(run.output).toContain('building the service');
    // One node process under npm, no shell between them: the service is npm's child.
    const children = execFileSync('ps', ['-o', 'args=', '--ppid', String(run.child.pid)], { encoding: 'utf8' });
    expect(children.trim()).toBe('node scripts/start.js');
    await stopsOnSignal(run, 'SIGTERM', false);
  }, 300_000);

  it('should stop `npm run start:prod` on SIGTERM sent to npm, exit 0', async () => {
    const run = await NpmRun.start(work, ['run', 'start:prod'], env());
    runs.push(run);
    await stopsOnSignal(run, 'SIGTERM', false);
  }, 120_000);

  it('should not build again on `npm start` when dist/ is current, and stop once on a SIGINT to the whole group (Ctrl-C)', async () => {
    const run = await NpmRun.start(work, ['start'], env());
    runs.push(run);
    expect(run.output).not.toContain('building the service');
    // npm forwards the signal to the service, which has it already: one shutdown, still exit 0.
    await stopsOnSignal(run, 'SIGINT', true);
  }, 120_000);

  it('should print a well-formed key with `npm run keygen` without a build (no dist/)', () => {
    rmSync(join(work, 'dist'), { recursive: true, force: true });
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
    const live = execFileSync('npm', ['run', '-s', 'keygen'], { cwd: work, env, encoding: 'utf8' });
    const test = execFileSync('npm', ['run', '-s', 'keygen', '--', 'test'], { cwd: work, env, encoding: 'utf8' });
    expect(live).toMatch(/^sk_live_[0-9A-Za-z]{49}\n$/);
    expect(test).toMatch(/^sk_test_[0-9A-Za-z]{49}\n$/);
    expect(existsSync(join(work, 'dist'))).toBe(false);
    // The service's own parser accepts them: the same key format, not a copy of it.
    expect(parseKey(live.trim())?.environment).toBe('live');
    expect(parseKey(test.trim())?.environment).toBe('test');
    expect(() => execFileSync('npm', ['run', '-s', 'keygen', '--', 'prod'], { cwd: work, env, stdio: 'pipe' })).toThrow(
      expect.objectContaining({ status: 64 }),
    );
  });
});
