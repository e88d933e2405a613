import { ChildProcess, fork, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { LoadResult, LoadSpec } from './load';
import { SERVICE_MAIN } from './paths';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, from the kernel's own account. */
export function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Number(line.replace(/\D+/g, '')) / 1024 : NaN;
}

/** CPU time a process has used so far (user + system), from /proc/<pid>/stat, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces, closed by the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/** USER_HZ: 100 on Linux for every architecture the service runs on. */
const CLOCK_TICKS = 100;

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await exited(child, graceMs))) {
    child.kill('SIGKILL');
    await exited(child, 5000);
  }
}

/** The service's production build, in production mode, in its own process. */
export class Service {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly logFile: string,
  ) {}

  /** `cwd` is the run's own folder, so no `.env` of the checkout leaks into the measured configuration. */
  static async start(
    env: Record<string, string>,
    cwd: string,
    logFile: string,
    nodeArgs: string[] = [],
  ): Promise<Service> {
    const port = await freePort();
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, [...nodeArgs, SERVICE_MAIN], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        // Instances started side by side: each its own management listener.
        MANAGEMENT_PORT: String(await freePort()),
        ...env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', out, out],
    });
    const service = new Service(child, `http://127.0.0.1:${port}`, logFile);
    await service.ready();
    return service;
  }

  get pid(): number {
    return this.child.pid!;
  }

  rssMb(): number {
    return residentMb(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  private async ready(): Promise<void> {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`the service exited with ${this.child.exitCode}; see ${this.logFile}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await this.stop();
    throw new Error(`the service did not become ready in 90 s; see ${this.logFile}`);
  }

  /** SIGTERM, so the service flushes its usage counts and closes its database. */
  stop(): Promise<void> {
    return stop(this.child, 20_000);
  }
}

/** A bare `node:http` baseline (see baseline-server.ts). */
export class Baseline {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(
    fixtureFile: string,
    env: Record<string, string>,
    pg: boolean,
    nodeArgs: string[] = [],
  ): Promise<Baseline> {
    const port = await freePort();
    const args = ['--fixture', fixtureFile, '--port', String(port), ...(pg ? ['--pg'] : [])];
    const child = fork(join(__dirname, 'baseline-server.js'), args, {
      execArgv: nodeArgs,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the baseline exited with ${code}`)));
    });
    return new Baseline(child, `http://127.0.0.1:${port}`);
  }

  rssMb(): number {
    return residentMb(this.child.pid!);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid!);
  }

  stop(): Promise<void> {
    return stop(this.child, 5000);
  }
}

/** The load generator's process (see load.ts); one run at a time. */
export class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static start(): LoadGenerator {
    return new LoadGenerator(fork(join(__dirname, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  run(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.child.once('message', (message: { ok: boolean; result?: LoadResult; error?: string }) =>
        message.ok ? resolve(message.result!) : reject(new Error(message.error)),
      );
      this.child.send(spec);
    });
  }

  stop(): Promise<void> {
    return stop(this.child, 2000);
  }
}
