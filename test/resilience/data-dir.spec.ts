import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordTally } from '../support/openapi-validation';
import { buildService, Service } from '../support/service-process';

// Each test starts and stops real processes on an embedded database: slow when the machine is busy.
jest.setTimeout(180_000);

/**
 * The embedded database's folder, as real processes share it: one process at a time
 * (a second one exits at once, naming the folder and the holder), free again once the
 * holder stops or dies, and private to its user whatever the umask.
 */
describe('the embedded data folder, between processes', () => {
  let work: string;
  let main: string;
  let build: string;
  let dataDir: string;
  const running: Service[] = [];
  const env = () => ({ NODE_ENV: 'production', DATA_DIR: dataDir, USAGE_FLUSH_INTERVAL_MS: '3600000' });
  const start = async () => {
    const service = await Service.start(main, work, env());
    running.push(service);
    return service;
  };
  const lockFile = () => join(dataDir, 'keyhouse.lock');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyhouse-data-dir-'));
    ({ folder: build, main } = await buildService('data-dir'));
  }, 150_000);
  beforeEach(() => {
    dataDir = join(work, `data-${Date.now()}`);
  });
  afterEach(async () => {
    for (const service of running.splice(0)) await service.kill();
  });
  afterAll(() => {
    recordTally();
    rmSync(work, { recursive: true, force: true });
    if (build) rmSync(build, { recursive: true, force: true });
  });

  it('should refuse a second process on the folder at once, naming the folder and the holder, while the first runs on', async () => {
    const first = await start();
    const started = Date.now();
    const second = await Service.spawn(main, work, env());
    running.push(second);
    const { code } = await second.exited;
    const took = Date.now() - started;
    process.stdout.write(`a second process on the data folder exited with ${code} after ${took} ms\n`);
    expect(code).toBe(75);
    expect(second.log).toContain(`The data folder ${dataDir} is in use by process ${first.pid}`);
    expect(took).toBeLessThan(15_000);
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
    // The built service opens its management listener and names both in its start-up line.
    expect(first.log).toContain(`docs at ${first.url}/docs; metrics at ${first.managementUrl}/metrics`);
    expect((await fetch(`${first.managementUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${first.url}/metrics`)).status).toBe(404);
  });

  it('should not start on a management port another process holds, naming the variable', async () => {
    const first = await start();
    const second = await Service.spawn(main, work, {
      ...env(),
      DATA_DIR: `${dataDir}-second`,
      MANAGEMENT_PORT: new URL(first.managementUrl).port,
    });
    running.push(second);
    expect((await second.exited).code).toBe(1);
    expect(second.log).toMatch(/MANAGEMENT_PORT: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    expect((await fetch(`${first.managementUrl}/metrics`)).status).toBe(200);
  });

  it('should free the folder when its process stops, and take over a lock left by a process that died', async () => {
    const first = await start();
    first.terminate();
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(lockFile())).toBe(false);

    // Killed outright: its lock stays behind, naming a process that no longer exists.
    const killed = await start();
    await killed.kill();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8')).pid).toBe(killed.pid);
    const after = await start();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8')).pid).toBe(after.pid);
    await after.kill();

    // A lock naming a live process that started later than the holder it names: its pid was reused.
    writeFileSync(lockFile(), JSON.stringify({ pid: process.pid, started: '1', host: hostname() }));
    const again = await start();
    expect((await fetch(`${again.url}/health`)).status).toBe(200);
  });

  it('should keep the folder 0700 and every file in it 0600, tightening an old install on start', async () => {
    const first = await start();
    first.terminate();
    expect((await first.exited).code).toBe(0);
    expect(modesOf(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'key-hash-secret'))).toBe(true);

    // As an older version left it: everything readable and writable by anyone.
    chmodTree(dataDir, 0o777, 0o666);
    expect(modesOf(dataDir).length).toBeGreaterThan(100);
    await start();
    expect(modesOf(dataDir)).toEqual([]);
  });
});

/** Every path under `root` (itself included) more open than 0700 for folders or 0600 for files. */
function modesOf(root: string): string[] {
  const open: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    const mode = stat.mode & 0o777;
    if (stat.isDirectory()) {
      if (mode & 0o077) open.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (mode & 0o177) open.push(`${path} ${mode.toString(8)}`);
  };
  walk(root);
  return open;
}

function chmodTree(root: string, dirMode: number, fileMode: number): void {
  const stat = lstatSync(root);
  if (stat.isDirectory()) {
    chmodSync(root, dirMode);
    for (const name of readdirSync(root)) chmodTree(join(root, name), dirMode, fileMode);
  } else chmodSync(root, fileMode);
}
