import { execFileSync } from 'node:child_process';
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
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { encoding: 'utf8' }).trim() !== '';
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
