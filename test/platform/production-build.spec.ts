import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createThrowawayDatabase } from '../support/throwaway-database';
import { ROOT, scratchCopy } from '../support/scratch-copy';
import { freePort } from '../support/service-process';
import { usingPostgres } from '../support/test-app';

/**
 * The production runtime as the Dockerfile makes it, without Docker: a copy of the checkout is
 * installed from the lockfile, built and pruned with the Dockerfile's own RUN steps, reduced to what
 * the image keeps (package.json, node_modules, dist), migrated with `node dist/src/migrate.js` (no dev
 * dependency, no KEY_HASH_SECRET), then started as an unprivileged user and asked for /health.
 */
const BUILD_STEPS = ['npm ci --no-audit --no-fund', 'npm run build', 'npm prune --omit=dev'];
const IMAGE_KEEPS = ['package.json', 'LICENSE', 'NOTICE', 'node_modules', 'dist', 'console/dist'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = process.getuid?.() === 0;

/** The Dockerfile's instructions per stage, continuation lines joined. */
function dockerfileStages(): { instruction: string; args: string }[][] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const stages: { instruction: string; args: string }[][] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'FROM') stages.push([]);
    stages.at(-1)?.push({ instruction: m[1], args: m[2].trim() });
  }
  return stages;
}

describe('the Dockerfile', () => {
  const [build, runtime] = dockerfileStages();

  it('should build with the RUN steps this suite runs, and keep what this suite keeps', () => {
    expect(build.filter((i) => i.instruction === 'RUN').map((i) => i.args)).toEqual(BUILD_STEPS);
    const kept = runtime
      .filter((i) => i.instruction === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).filter((a) => a.startsWith('/app/')))
      .map((a) => a.slice('/app/'.length));
    expect(kept.sort()).toEqual([...IMAGE_KEEPS].sort());
  });

  it('should run the service as a non-root user, in exec form, listening on every interface, with a health check by node', () => {
    const get = (name: string) => runtime.filter((i) => i.instruction === name).map((i) => i.args);
    expect(get('USER')).toEqual(['node']);
    expect(JSON.parse(get('CMD')[0])).toEqual(['node', 'dist/src/main.js']);
    expect(get('ENV').join(' ')).toMatch(/\bHOST=0\.0\.0\.0\b/);
    const [healthcheck] = get('HEALTHCHECK');
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain('/health');
  });
});

describe(`the production build, pruned, as an unprivileged user (${usingPostgres ? 'PostgreSQL' : 'embedded database'})`, () => {
  let work: string;
  let app: string;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let service: ChildProcess | undefined;

  beforeAll(async () => {
    work = scratchCopy('production');
    if (usingPostgres) database = await createThrowawayDatabase(process.env.DATABASE_URL!);
  });
  afterAll(async () => {
    if (service && service.exitCode === null && service.signalCode === null) service.kill('SIGKILL');
    await database?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs `argv` in the image's folder as the unprivileged user (when this process may switch to one). */
  function asService(argv: string[]): [string, string[]] {
    return isRoot
      ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv]]
      : [argv[0], argv.slice(1)];
  }

  it('should install, build and prune, then migrate and serve from package.json, node_modules and dist alone', async () => {
    // The Dockerfile's steps, word for word; the lockfile's packages come from npm's cache when it has them.
    const buildEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      npm_config_prefer_offline: 'true',
    };
    for (const step of BUILD_STEPS) {
      const result = spawnSync('sh', ['-c', step], { cwd: work, env: buildEnv, encoding: 'utf8', timeout: 300_000 });
      if (result.status !== 0)
        throw new Error(`${step} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
    // (typescript stays: @nestjs/swagger names it as an optional peer.)
    for (const dev of ['jest', '@nestjs/cli', 'ts-jest', 'eslint', 'prettier', '@nestjs/testing']) {
      expect({ dev, installed: existsSync(join(work, 'node_modules', dev)) }).toEqual({ dev, installed: false });
    }

    // What the runtime stage copies, and nothing else: no sources, no lockfile, no tests.
    app = join(work, 'app');
    mkdirSync(app);
    for (const kept of IMAGE_KEEPS) {
      mkdirSync(dirname(join(app, kept)), { recursive: true });
      renameSync(join(work, kept), join(app, kept));
    }
    const data = join(work, 'data');
    mkdirSync(data);
    let node = process.execPath;
    if (isRoot) {
      // The unprivileged user reads the image and owns only its data folder (DATA_DIR=/data in the image).
      chmodSync(work, 0o755);
      chownSync(data, 65534, 65534);
      // A Node.js installed under root's home (npm exec --package=node@24) is out of that user's reach.
      if (node.startsWith('/root/')) {
        node = join(work, 'node');
        copyFileSync(process.execPath, node);
        chmodSync(node, 0o755);
      }
    } else {
      process.stdout.write('not running as root: the production build is started as this user, not as nobody\n');
    }

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      ...(database ? { DATABASE_URL: database.url } : { DATA_DIR: data }),
    };
    // Migrations as a deploy step: the database variables only, no KEY_HASH_SECRET.
    const migrate = () => {
      const [file, args] = asService([node, 'dist/src/migrate.js']);
      const result = spawnSync(file, args, { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
      return { status: result.status, out: result.stdout + result.stderr };
    };
    const first = migrate();
    const where = database ? 'PostgreSQL' : 'the embedded database in ';
    expect(first).toEqual({ status: 0, out: expect.stringMatching(/; [1-9]\d* applied in all, the last \w+\n$/) });
    expect(first.out.startsWith(`migrations applied on ${where}`)).toBe(true);
    expect(migrate()).toEqual({ status: 0, out: expect.stringMatching(/^no migration pending/) });

    const port = await freePort();
    const [file, args] = asService([node, 'dist/src/main.js']);
    let stdout = '';
    let stderr = '';
    service = spawn(file, args, {
      cwd: app,
      env: {
        ...env,
        MIGRATIONS_RUN: 'false',
        HOST: '127.0.0.1',
        PORT: String(port),
        MANAGEMENT_PORT: '0', // any free port: parallel suites must not meet on 9464
        ...(database ? { KEY_HASH_SECRET: process.env.KEYHOUSE_TEST_HASH_SECRET! } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    service.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((done) =>
      service!.once('exit', (code, signal) => done({ code, signal })),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    let health: Response | undefined;
    while (!health?.ok) {
      if (service.exitCode !== null)
        throw new Error(`the service exited with ${service.exitCode}:\n${stdout}${stderr}`);
      if (Date.now() > deadline) throw new Error(`the service did not start:\n${stdout}${stderr}`);
      health = await fetch(`${url}/health`).catch(() => undefined);
      if (!health?.ok) await sleep(200);
    }

    // The service runs as that user (setpriv execs it: the child is the service itself).
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${service.pid}/status`, 'utf8'))![1];
    expect(Number(uid)).toBe(isRoot ? 65534 : process.getuid!());

    // A fresh database: the root key is generated and shown on standard error only, and it works.
    const key = /\| (sk_live_[0-9A-Za-z]{49}) +\|/.exec(stderr)?.[1];
    expect(key).toBeDefined();
    expect(stdout).not.toContain(key);
    const clients = await fetch(`${url}/v1/clients`, { headers: { authorization: `Bearer ${key}` } });
    expect(clients.status).toBe(200);
    // The console's static files come with the image.
    const page = await fetch(`${url}/console/`);
    expect({ status: page.status, type: page.headers.get('content-type') }).toEqual({
      status: 200,
      type: expect.stringMatching(/^text\/html/),
    });

    service.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  }, 600_000);
});
