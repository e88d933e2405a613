import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGb: number;
  os: string;
  node: string;
  database: string;
  redis: string | null;
  commit: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  /** The share of the machine's CPU time its host took during the run (steal time, in %); null where the kernel does not count it. */
  stealPercent?: number | null;
}

/** The machine's CPU time so far, all of it and what its host took (steal), in clock ticks; null without /proc/stat. */
export function cpuTimes(): { total: number; steal: number } | null {
  try {
    // The first line adds up every CPU: user nice system idle iowait irq softirq steal (guest time is inside user and nice).
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return fields.length === 8 ? { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] } : null;
  } catch {
    return null;
  }
}

/** The steal time between two readings, as a percentage of all CPU time then. */
export function stealPercent(from: ReturnType<typeof cpuTimes>, to: ReturnType<typeof cpuTimes>): number | null {
  if (!from || !to || to.total <= from.total) return null;
  return Math.round((1000 * (to.steal - from.steal)) / (to.total - from.total)) / 10;
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes in src/ or migrations/)` : sha;
  } catch {
    return 'unknown';
  }
}

async function redisVersion(url: string): Promise<string> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`;
  } finally {
    redis.disconnect();
  }
}

export async function describeMachine(database: string, redisUrl: string | undefined): Promise<Machine> {
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    database,
    redis: redisUrl ? await redisVersion(redisUrl) : null,
    commit: commit(),
    loadAverageAtStart: loadavg().map(round),
  };
}
