import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUse, lockDataDir } from './data-dir-lock';

describe(lockDataDir.name, () => {
  let dir: string;
  const lockFile = () => join(dir, 'keyhouse.lock');
  const writeLock = (holder: object) => writeFileSync(lockFile(), JSON.stringify(holder));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyhouse-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should refuse the folder a second time in this process, naming it and the holder, until released', () => {
    const sut = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8')).pid).toBe(process.pid);
    expect(() => lockDataDir(dir)).toThrow(DataDirInUse);
    expect(() => lockDataDir(dir)).toThrow(`The data folder ${dir} is in use by process ${process.pid}`);
    sut.release();
    expect(existsSync(lockFile())).toBe(false);
    lockDataDir(dir).release();
  });

  it('should refuse a folder held by another live process', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => other.once('spawn', resolve));
      const started = readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      writeLock({ pid: other.pid, started, host: hostname() });
      expect(() => lockDataDir(dir)).toThrow(`in use by process ${other.pid}`);
      // Held on another machine (a shared folder): that process cannot be checked from here, so it holds it.
      writeLock({ pid: 1, started: null, host: `not-${hostname()}` });
      expect(() => lockDataDir(dir)).toThrow(DataDirInUse);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it.each([
    ['a process that has exited', () => ({ pid: 2 ** 22 + 17, started: '1', host: hostname() })],
    [
      'a live process started after the holder (a reused pid)',
      () => ({ pid: process.ppid, started: '1', host: hostname() }),
    ],
    [
      'this process, which does not hold it (a database closed without releasing)',
      () => ({ pid: process.pid, started: '1', host: hostname() }),
    ],
    ['nothing readable', () => 'half a lo'],
  ])('should take over a stale lock naming %s', (_, holder) => {
    const content = holder();
    writeFileSync(lockFile(), typeof content === 'string' ? content : JSON.stringify(content));
    const sut = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8')).pid).toBe(process.pid);
    sut.release();
  });
});
