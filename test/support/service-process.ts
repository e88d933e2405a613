import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * `nest build` into a folder of this run's own under test-artifacts/ (the CLI builds only
 * inside the project): other work in the tree may rebuild dist/ meanwhile.
 */
export async function buildService(name: string): Promise<{ folder: string; main: string }> {
  const folder = join(ROOT, 'test-artifacts', `${name}-build-${randomUUID().slice(0, 8)}`);
  mkdirSync(folder, { recursive: true });
  const tsconfig = join(folder, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({ extends: '../../tsconfig.build.json', compilerOptions: { outDir: './build' } }),
  );
  await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'nest'), ['build', '--path', relative(ROOT, tsconfig)], {
    cwd: ROOT,
    timeout: 120_000,
  });
  return { folder, main: join(folder, 'build', 'src', 'main.js') };
}

/** The production build in a process of its own, as an orchestrator runs it. */
export class Service {
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    /** The management listener: /metrics and health. */
    readonly managementUrl: string,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  /** Starts the service and waits until `/health` answers 200. */
  static async start(main: string, cwd: string, env: Record<string, string>): Promise<Service> {
    const service = await Service.spawn(main, cwd, env);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (service.child.exitCode !== null)
        throw new Error(`the service exited with ${service.child.exitCode}:\n${service.output}`);
      if (Date.now() > deadline) throw new Error(`the service did not start:\n${service.output}`);
      const up = await fetch(`${service.url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return service;
      await sleep(100);
    }
  }

  /** Starts the service without waiting for it. */
  static async spawn(main: string, cwd: string, env: Record<string, string>): Promise<Service> {
    const port = await freePort();
    // A port of its own for the management listener too: services started side by side never share one.
    const managementPort = await freePort();
    const child = spawn(process.execPath, [main], {
      cwd, // no .env of the checkout
      env: {
        PATH: process.env.PATH ?? '',
        MANAGEMENT_PORT: String(managementPort),
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Service(child, `http://127.0.0.1:${port}`, `http://127.0.0.1:${managementPort}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get log(): string {
    return this.output;
  }

  terminate(): void {
    this.child.kill('SIGTERM');
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
