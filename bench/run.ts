/**
 * `npm run bench [-- --quick] [--json FILE] [--keep] [--only ids] [--rounds N] [--seconds N] [--cpu-prof DIR]`:
 * the introspection benchmark (docs/performance.md).
 *
 * Starts the built service in production mode as its own process (on DATABASE_URL and
 * REDIS_URL when set, else on the embedded database in a temporary DATA_DIR), seeds it
 * through its HTTP API (and, for the large key set, by SQL with the service's digest), and
 * drives it from a separate load-generator process, alternating each case with a bare
 * `node:http` baseline. Prints each case, the targets as MET / NOT MET, and writes JSON.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AppConfig } from '../src/config/config';
import { KeyDigest } from '../src/credentials/key-digest';
import { generateKey, keyHint } from '../src/credentials/key-format';
import { BenchCases, caseDefinitions, checkSameShape, Phase } from './cases';
import { runConsumerCase } from './consumer';
import { BenchDatabase, countersDelta, EmbeddedBench, PostgresBench, SettledCounters } from './database';
import { writeFixture, writeTokens, type SeededKey } from './fixture';
import { cpuTimes, describeMachine, stealPercent } from './machine';
import { BUILD_DIR, RESULTS_DIR, ROOT } from './paths';
import { Baseline, LoadGenerator, Service } from './processes';
import { printReport, type CaseResult, type Report } from './report';
import { bulkKeys, seedThroughApi } from './seed';
import { judge } from './targets';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const valueOf = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const jsonFile = valueOf('--json');
const keep = args.includes('--keep');
/** `--cpu-prof DIR`: each service and baseline process writes a V8 CPU profile there when it stops (open it in Chrome's DevTools). */
const cpuProfDir = valueOf('--cpu-prof');
/** `--only introspect-cached,writes`: a subset of the cases (ids as in cases.ts, plus `writes`), for working on one figure. */
const only = valueOf('--only')?.split(',');
/**
 * --quick leaves out what no target judges, to stay under two minutes: the case with all
 * 100,000 keys in play, and without DATABASE_URL the cache-off case (its baseline needs PostgreSQL).
 */
const quickSkips = quick && !only ? ['keys-large-all', ...(process.env.DATABASE_URL ? [] : ['cache-off'])] : [];
const selected = (id: string) => (!only || only.includes(id)) && !quickSkips.includes(id);
const DATABASE_URL = process.env.DATABASE_URL || undefined;
const REDIS_URL = process.env.REDIS_URL || undefined;

/** Full: five alternating rounds per case. Quick: one short round and a tenth of the keys, to stay under two minutes. */
const profile = quick
  ? {
      mode: 'quick',
      rounds: 1,
      warmupSeconds: 1,
      measureSeconds: 2,
      connections: 50,
      apiKeys: 100,
      smallKeys: 1000,
      totalKeys: 10_000,
      perCaseDbCounters: false,
    }
  : {
      mode: 'full',
      rounds: 5,
      warmupSeconds: 2,
      measureSeconds: 3,
      connections: 50,
      apiKeys: 1000,
      smallKeys: 1000,
      totalKeys: 100_000,
      perCaseDbCounters: true,
    };
// `--rounds N` and `--seconds N` (measured, per side and round) override the profile's.
if (valueOf('--rounds')) profile.rounds = Number(valueOf('--rounds'));
if (valueOf('--seconds')) profile.measureSeconds = Number(valueOf('--seconds'));
const profileShown = { ...profile, ...(only ? { only: only.join(',') } : {}) };
const CACHE_TTL_MS = 5000;
const USAGE_FLUSH_INTERVAL_MS = 5000;
const WRITES_INTROSPECTIONS = 10_000;
/** Keys the bench adds besides the seeded sets: the root, the caller, the cached and the rate-limited key. */
const OTHER_KEYS = 4;

const began = Date.now();
const log = (line: string) =>
  process.stdout.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const startedAt = new Date();
  const work = mkdtempSync(join(tmpdir(), 'keyhouse-bench-'));
  const secret = generateKey('live') + generateKey('live'); // any 32+ characters; fresh per run
  const rootKey = generateKey('live');
  const digest = new KeyDigest(Object.assign(new AppConfig(), { KEY_HASH_SECRET: secret }));
  const notes: string[] = [];

  const db: BenchDatabase = DATABASE_URL
    ? await PostgresBench.prepare(DATABASE_URL)
    : new EmbeddedBench(join(work, 'data'), `embedded PGlite ${pgliteVersion()} (in the service process)`);
  const counters = db.kind === 'postgres' ? new SettledCounters(db) : null;
  const machine = await describeMachine(db.version, REDIS_URL);
  const cpuAtStart = cpuTimes();
  log(
    `Keyhouse bench (${profile.mode}) on ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, ${machine.database}${machine.redis ? `, ${machine.redis}` : ''}`,
  );
  if (machine.loadAverageAtStart[0] > 0.5)
    notes.push(
      `the machine was busy at the start (load average ${machine.loadAverageAtStart.join(' ')}): other work shares its ${machine.cores} cores, so the figures are noisy.`,
    );
  if (quickSkips.length > 0)
    notes.push(`--quick left out ${quickSkips.join(' and ')}, which no target judges here; the full run has them.`);
  if (quick)
    notes.push(
      `--quick: one round of ${profile.measureSeconds} s per side after ${profile.warmupSeconds} s of warm-up, ${profile.apiKeys} keys issued through the API (the rest of the 1,000 by SQL), and ${profile.totalKeys.toLocaleString('en-US')} keys instead of 100,000 for the large key set; use the full run for figures to quote.`,
    );
  if (db.kind === 'postgres' && !db.hasStatementStats)
    notes.push(
      'pg_stat_statements is not loaded: database work is read from pg_stat_database, pg_stat_user_tables and pg_stat_user_indexes, which PostgreSQL publishes up to 10 s late; the bench waits for them.',
    );
  if (db.kind === 'embedded')
    notes.push(
      'embedded database: it lives inside the service process, so its work cannot be counted from outside and the resident memory includes it. Set DATABASE_URL (a scratch database) and REDIS_URL for the production set-up.',
    );

  const serviceEnv: Record<string, string> = {
    KEY_HASH_SECRET: secret,
    BOOTSTRAP_ROOT_KEY: rootKey,
    CACHE_TTL_MS: String(CACHE_TTL_MS),
    USAGE_FLUSH_INTERVAL_MS: String(USAGE_FLUSH_INTERVAL_MS),
    ...(DATABASE_URL ? { DATABASE_URL } : { DATA_DIR: join(work, 'data') }),
    ...(REDIS_URL ? { REDIS_URL } : {}),
  };
  const baselineEnv = { KEY_HASH_SECRET: secret, ...(DATABASE_URL ? { DATABASE_URL, DB_POOL_SIZE: '10' } : {}) };
  const loader = LoadGenerator.start();
  const results: CaseResult[] = [];
  let writes: Report['writes'] = null;
  let serviceNumber = 0;
  const profileArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(cpuProfDir)}`] : [];
  const startService = async (extra: Record<string, string> = {}) => {
    counters?.touched();
    const service = await Service.start(
      { ...serviceEnv, ...extra },
      work,
      join(work, `service-${++serviceNumber}.log`),
      profileArgs,
    );
    log(`service ${serviceNumber} up at ${service.url} (pid ${service.pid})`);
    return service;
  };
  const insert = async (keys: SeededKey[]) => {
    const at = Date.now();
    await db.bulkInsert(keys, (t) => digest.of(t), keyHint);
    counters?.touched();
    log(`inserted ${keys.length.toLocaleString('en-US')} keys by SQL in ${((Date.now() - at) / 1000).toFixed(1)} s`);
  };
  const runner = (phase: Phase) => new BenchCases({ loader, counters, profile, phase, log });
  const files = {
    smallTokens: join(work, 'tokens-small.txt'),
    largeTokens: join(work, 'tokens-large.txt'),
    malformed: join(work, 'tokens-malformed.txt'),
    unknown: join(work, 'tokens-unknown.txt'),
  };

  try {
    // Seeding through the service's own API.
    let service = await startService();
    const at = Date.now();
    const seed = await seedThroughApi(service.url, rootKey, profile.apiKeys);
    log(
      `seeded ${profile.apiKeys + OTHER_KEYS - 1} keys through the API in ${((Date.now() - at) / 1000).toFixed(1)} s`,
    );
    const defs = caseDefinitions(seed, files, {
      redis: !!REDIS_URL,
      postgres: db.kind === 'postgres',
      bulkLabel: bulkLabel(),
    });
    const byPhase = (n: number) => defs.filter((d) => d.phase === n && selected(d.id));
    await service.stop();

    // Phase 1: about 1,000 keys in the database.
    const small = [
      ...seed.keys,
      ...bulkKeys(
        seed.customersClientId,
        profile.smallKeys - seed.keys.length,
        'small',
        Math.floor(Date.now() / 1000) * 1000,
      ),
    ];
    await insert(small.slice(seed.keys.length));
    const smallFixture = join(work, 'fixture-small.json');
    writeFixture(smallFixture, { callers: [seed.caller], keys: [seed.cached, seed.rateLimited, ...small] });
    writeTokens(
      files.smallTokens,
      small.map((k) => k.token),
    );
    writeTokens(files.malformed, malformedTokens(1000));
    writeTokens(
      files.unknown,
      Array.from({ length: 100 }, () => generateKey('live')),
    );
    service = await startService();
    let baseline = await Baseline.start(smallFixture, baselineEnv, false, profileArgs);
    notes.push(...(await checkSameShape(service.url, baseline.url, seed)));
    for (const def of byPhase(1)) results.push(await runner({ service, baseline, pgBaseline: null }).run(def));
    if (counters && db.kind === 'postgres' && selected('writes')) {
      // A stopped service has flushed its counts, and its connections published their statistics as they closed:
      // the reading is complete at once. The fresh service's own start-up work counts against it, never for it.
      await service.stop();
      await sleep(1500);
      const before = await counters.readNow();
      service = await startService();
      const run = await loader.run({
        ...defs.find((d) => d.id === 'introspect-cached')!.spec(service.url, profile.connections),
        amount: WRITES_INTROSPECTIONS,
      });
      // A graceful stop flushes what is left, and the connections publish their statistics as they close.
      await service.stop();
      await sleep(1500);
      const delta = countersDelta(before, await counters.readNow());
      writes = {
        ...delta,
        introspections: run.requests,
        workload:
          'a fresh service: start, one cached key at full speed, then a graceful stop (which flushes the usage counts)',
      };
      log(
        `writes: ${delta.rowsWritten} rows written, ${delta.transactions} transactions for ${run.requests} introspections`,
      );
    }
    await Promise.all([service.stop(), baseline.stop()]);

    // Phase 2: the large key set, inserted by SQL while no service runs.
    if (byPhase(2).length > 0) {
      const bulk = bulkKeys(
        seed.customersClientId,
        profile.totalKeys - small.length - OTHER_KEYS,
        'large',
        Math.floor(Date.now() / 1000) * 1000,
      );
      await insert(bulk);
      const large = [...small, ...bulk];
      writeTokens(
        files.largeTokens,
        large.map((k) => k.token),
      );
      const largeFixture = join(work, 'fixture-large.json');
      writeFixture(largeFixture, { callers: [seed.caller], keys: [seed.cached, seed.rateLimited, ...large] });
      service = await startService();
      baseline = await Baseline.start(largeFixture, baselineEnv, false, profileArgs);
      const phase2 = runner({ service, baseline, pgBaseline: null });
      for (const def of byPhase(2)) results.push(await phase2.run(def));
      await Promise.all([service.stop(), baseline.stop()]);
    }

    // Phase 3: no cache, one query per call, against the same query from bare node:http.
    if (byPhase(3).length > 0) {
      service = await startService({ CACHE_TTL_MS: '0' });
      const pgBaseline =
        db.kind === 'postgres' ? await Baseline.start(smallFixture, baselineEnv, true, profileArgs) : null;
      for (const def of byPhase(3)) results.push(await runner({ service, baseline: null, pgBaseline }).run(def));
      await Promise.all([service.stop(), pgBaseline?.stop()]);
    }

    // The consumer: a service checking keys through the client package, against a bare Map lookup.
    if (selected('consumer')) {
      service = await startService();
      const consumer = await runConsumerCase({
        url: service.url,
        rootKey,
        seed,
        loader,
        seconds: profile.measureSeconds,
        connections: profile.connections,
        rounds: profile.rounds,
        log,
      });
      notes.push(...consumer.notes);
      await service.stop();
    }
  } finally {
    await loader.stop();
    if (db.kind === 'postgres') await db.close();
  }

  machine.loadAverageAtEnd = loadavg().map((n) => Math.round(n * 100) / 100);
  machine.stealPercent = stealPercent(cpuAtStart, cpuTimes());
  if ((machine.stealPercent ?? 0) >= 5)
    notes.push(
      `the machine's host took ${machine.stealPercent}% of its CPU time during the run (steal time, from /proc/stat): the processes here got less CPU than they asked for, by amounts that varied, so the figures are not comparable with a quiet machine's.`,
    );
  const partial = {
    machine,
    profile: profileShown,
    cases: results,
    writes,
    notes,
    startedAt: startedAt.toISOString(),
    minutes: (Date.now() - startedAt.getTime()) / 60_000,
  };
  const report: Report = {
    ...partial,
    targets: judge(partial, {
      bulkLabel: bulkLabel(),
      lookupAllowance: (seconds) => lookupAllowance(seconds),
      postgres: db.kind === 'postgres',
      selected,
    }),
  };
  printReport(report, (line) => process.stdout.write(`${line}\n`));
  const json = JSON.stringify(report, null, 2);
  const latest = join(RESULTS_DIR, 'latest.json');
  mkdirSync(dirname(latest), { recursive: true });
  writeFileSync(latest, json);
  if (jsonFile) writeFileSync(resolve(jsonFile), json);
  log(`JSON: ${jsonFile ? resolve(jsonFile) : latest}`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}

function bulkLabel(): string {
  return profile.totalKeys.toLocaleString('en-US');
}

/**
 * Lookups the caller's own key may cause in `seconds`: its cache entry expires once per TTL,
 * and every connection waiting at that moment may read it again.
 */
function lookupAllowance(seconds: number): number {
  return (Math.ceil((seconds * 1000) / CACHE_TTL_MS) + 1) * profile.connections;
}

/** Wrong checksum, wrong prefix, wrong length, wrong alphabet: each rejected by format alone. */
function malformedTokens(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const key = generateKey('live');
    switch (i % 4) {
      case 0:
        return key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      case 1:
        return 'sk_prod_' + key.slice(8);
      case 2:
        return key.slice(0, -3);
      default:
        return key.slice(0, 20) + '-' + key.slice(21);
    }
  });
}

function pgliteVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json')) as { version: string })
    .version;
}

/**
 * Runs the bench from a private copy of the build: another `npm run bench` in the same tree
 * rebuilds bench/results/build, and this run starts services from it for minutes.
 */
function fromPrivateCopy(): void {
  const copy = join(RESULTS_DIR, 'runs', String(process.pid));
  cpSync(BUILD_DIR, copy, { recursive: true });
  const child = spawn(process.execPath, [join(copy, 'bench', 'bench', 'run.js'), ...args], {
    stdio: 'inherit',
    env: { ...process.env, KEYHOUSE_BENCH_PRIVATE_BUILD: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => {
    rmSync(copy, { recursive: true, force: true });
    process.exit(code ?? 1);
  });
}

if (!process.env.KEYHOUSE_BENCH_PRIVATE_BUILD) {
  fromPrivateCopy();
} else {
  main().catch((err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
