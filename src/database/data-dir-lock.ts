import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** Who holds a data folder: enough to tell a live holder from a dead one whose pid was reused. */
interface Holder {
  pid: number;
  /** The holder's start time as the kernel counts it (/proc/<pid>/stat, field 22); null off Linux. */
  started: string | null;
  host: string;
}

/** The data folder is held by another live process (or another app of this one). */
export class DataDirInUse extends Error {
  constructor(
    readonly folder: string,
    readonly holder: Holder,
  ) {
    super(
      `The data folder ${folder} is in use by process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}: ` +
        'one process at a time may run on an embedded database. Stop that process, or give this one another DATA_DIR.',
    );
  }
}

/** Folders this process holds, so that its exit releases them and a second app of it is refused too. */
const held = new Map<string, string>();
let releaseAtExit = false;

/** What the lock looks like while held; released by `release()`, by closing the database, or at process exit. */
export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the folder for this process: `keyhouse.lock` in it names the holder, created
 * whole (written aside, then hard-linked into place, which fails if it exists). A lock
 * whose holder is dead, or whose pid now belongs to a process started later, is stale
 * and taken over under a second lock of the same kind, so two processes recovering
 * it at once cannot both win.
 */
export function lockDataDir(folder: string): DataDirLock {
  const dir = resolve(folder);
  const file = join(dir, 'keyhouse.lock');
  if (held.has(file))
    throw new DataDirInUse(dir, { pid: process.pid, started: startTimeOf(process.pid), host: hostname() });
  const mine = JSON.stringify({
    pid: process.pid,
    started: startTimeOf(process.pid),
    host: hostname(),
  } satisfies Holder);
  const aside = `${file}.${process.pid}`;
  writeFileSync(aside, `${mine}\n`, { mode: 0o600 });
  try {
    takeOrRefuse(dir, file, aside);
  } finally {
    unlinkSync(aside);
  }
  held.set(file, mine);
  if (!releaseAtExit) {
    releaseAtExit = true;
    process.once('exit', () => {
      for (const [lock, content] of held) removeIfMine(lock, content);
    });
  }
  return {
    file,
    release: () => {
      if (held.get(file) !== mine) return;
      held.delete(file);
      removeIfMine(file, mine);
    },
  };
}

function takeOrRefuse(dir: string, file: string, aside: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (linked(aside, file)) return;
    const holder = readHolder(file);
    if (holder === 'gone') continue;
    if (isAlive(holder)) throw new DataDirInUse(dir, holder);
    // Stale: take it over, under a lock of the take-over itself.
    const takeover = `${file}.takeover`;
    if (!linked(aside, takeover)) {
      const other = readHolder(takeover);
      if (other !== 'gone' && !isAlive(other)) removeIfMine(takeover, JSON.stringify(other));
      continue;
    }
    try {
      // Still the stale one we read? (Another process may have taken it over meanwhile.)
      const now = readHolder(file);
      if (now !== 'gone' && JSON.stringify(now) === JSON.stringify(holder)) unlinkSync(file);
      if (linked(aside, file)) return;
    } finally {
      unlinkSync(takeover);
    }
  }
  const holder = readHolder(file);
  throw new DataDirInUse(dir, holder === 'gone' ? { pid: 0, started: null, host: hostname() } : holder);
}

function linked(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The lock's holder; a file that cannot be read as one (written by hand, say) reads as a dead holder. */
function readHolder(file: string): Holder | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Holder>;
    if (Number.isSafeInteger(parsed.pid) && parsed.pid! > 0 && typeof parsed.host === 'string') {
      return {
        pid: parsed.pid!,
        started: typeof parsed.started === 'string' ? parsed.started : null,
        host: parsed.host,
      };
    }
  } catch {
    // not a lock this code wrote
  }
  return { pid: 0, started: null, host: hostname() };
}

function isAlive(holder: Holder): boolean {
  // Another machine's process (a shared network folder) cannot be checked from here: assume it runs.
  if (holder.host !== hostname()) return true;
  if (holder.pid <= 0) return false;
  // This process's own lock, left by a database closed without releasing it (a folder it holds was refused before).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // Alive; the same process only if it started when the lock says (a reused pid did not).
  const started = startTimeOf(holder.pid);
  return started === null || holder.started === null || started === holder.started;
}

function removeIfMine(file: string, content: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === content) unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces); null where there is no /proc. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
