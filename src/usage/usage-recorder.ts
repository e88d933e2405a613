import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { KeysRepository } from '../store/keys.repository';
import { UsageRepository, type UsageCount } from '../store/usage.repository';
import { Metrics } from '../metrics/metrics';

const HOUR = 3_600_000;
/** Rows per statement: well under PostgreSQL's parameter and message limits. */
const BATCH_ROWS = 5000;
/**
 * How long shutdown keeps trying to write the last counts while the database does not
 * answer, and how long it waits between tries: they exist nowhere else, and an
 * orchestrator gives a stopping instance about 30 s before it kills it.
 */
const EXIT_FLUSH_DEADLINE_MS = 10_000;
const EXIT_FLUSH_RETRY_MS = 250;

type Pending = UsageCount;

/** One key's counts not yet written, and its last use. */
interface KeyUsage {
  lastUsed: number;
  /** A few rows: one per hour and outcome the key has seen since the last flush. */
  rows: Pending[];
}

/**
 * Counts hot-path outcomes in memory, per key, UTC hour and outcome, with each key's
 * last use, and writes them in batches every USAGE_FLUSH_INTERVAL_MS and at shutdown:
 * never a database write per call. A flush that fails keeps its counts for the next.
 * Concurrent instances add to the same rows (ON CONFLICT ... count + EXCLUDED.count);
 * rows are written in one order so two flushes cannot deadlock each other.
 */
@Injectable()
export class UsageRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('UsageRecorder');
  /** By key id: a call looks its key up and adds to a row, without building a string per call. */
  private pending = new Map<string, KeyUsage>();
  /** When the oldest count not yet taken by a write was recorded. */
  private pendingSince: number | null = null;
  /** When the oldest count of the write under way was recorded: not written until it commits. */
  private writingSince: number | null = null;
  /** Since when every write has failed; null while they succeed. */
  private failingSince: number | null = null;
  private flushing: Promise<number> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private exitDeadline: number | null = null;
  /** How long writes had been failing when that was last logged. */
  private lastWarnedAt: number | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly env: AppConfig,
    private readonly metrics: Metrics,
    private readonly buckets: UsageRepository,
    private readonly keys: KeysRepository,
  ) {}

  onModuleInit(): void {
    this.metrics.observeUsageLag(() => this.lagSeconds());
    this.timer = setInterval(() => void this.flush(), this.env.USAGE_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushBeforeExit();
  }

  /**
   * Writes what has been counted, trying again while the database fails, until
   * EXIT_FLUSH_DEADLINE_MS after shutdown first asked; what still cannot be written is
   * logged as lost.
   */
  async flushBeforeExit(): Promise<void> {
    // One deadline for the whole shutdown, however many hooks ask for the last flush.
    const deadline = (this.exitDeadline ??= Date.now() + EXIT_FLUSH_DEADLINE_MS);
    // A write stuck on a connection that does not answer is not waited for past the deadline.
    const flushBy = () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      return Promise.race([this.flush(), late]).finally(() => clearTimeout(timer));
    };
    await flushBy();
    while (this.hasPending() && this.writingSince === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, EXIT_FLUSH_RETRY_MS));
      await flushBy();
    }
    if (this.writingSince !== null)
      this.logger.error('usage counts may be lost at shutdown: their write had not finished');
    if (this.hasPending()) {
      const rows = [...this.pending.values()].reduce((n, usage) => n + usage.rows.length, 0);
      this.logger.error(`usage counts lost at shutdown: ${rows} rows could not be written`);
    }
  }

  /** Age of the oldest count not yet written (in a write under way or waiting for the next), in seconds. */
  lagSeconds(now = Date.now()): number {
    const oldest = Math.min(this.writingSince ?? Infinity, this.pendingSince ?? Infinity);
    return oldest === Infinity ? 0 : Math.max(0, now - oldest) / 1000;
  }

  /**
   * Whether counts are being written: false once the oldest unwritten count is older than
   * two flush intervals and two statement timeouts (writes failing, or one stuck), so
   * /health can say so instead of answering 200 while usage piles up in memory.
   */
  writing(now = Date.now()): boolean {
    return this.lagSeconds(now) * 1000 <= this.lagLimitMs();
  }

  lagLimitMs(): number {
    return 2 * this.env.USAGE_FLUSH_INTERVAL_MS + 2 * (this.env.DB_STATEMENT_TIMEOUT_MS + 1000);
  }

  /** Since when writes have failed without one succeeding; null while they succeed. */
  get failingFrom(): number | null {
    return this.failingSince;
  }

  private hasPending(): boolean {
    return this.pending.size > 0;
  }

  record(keyId: string, outcome: string, at = Date.now()): void {
    add(this.usageOf(keyId, at).rows, keyId, at - (at % HOUR), outcome, 1);
    this.pendingSince ??= at;
  }

  /** The key's pending usage, started if it has none, its last use moved up to `at`. */
  private usageOf(keyId: string, at: number): KeyUsage {
    let usage = this.pending.get(keyId);
    if (!usage) this.pending.set(keyId, (usage = { lastUsed: at, rows: [] }));
    else if (usage.lastUsed < at) usage.lastUsed = at;
    return usage;
  }

  /** Writes what has been counted so far; resolves with the number of usage rows written. */
  flush(): Promise<number> {
    // One flush at a time; a call during a flush waits for it and then writes what came since.
    const previous = this.flushing ?? Promise.resolve(0);
    const next = previous.then(() => this.writePending());
    this.flushing = next;
    void next.finally(() => {
      if (this.flushing === next) this.flushing = null;
    });
    return next;
  }

  private async writePending(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const usages = [...this.pending];
    const rows = usages.flatMap(([, usage]) => usage.rows);
    const touched = usages.map(([keyId, usage]): [string, number] => [keyId, usage.lastUsed]);
    const since = this.pendingSince;
    this.pending = new Map();
    this.pendingSince = null;
    // Taken, not written: until the transaction commits these counts are still owed, and the lag says so.
    this.writingSince = since;
    rows.sort((a, b) =>
      a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : a.bucket - b.bucket || (a.outcome < b.outcome ? -1 : 1),
    );
    touched.sort(([a], [b]) => (a < b ? -1 : 1));
    try {
      await this.dataSource.transaction(async (manager) => {
        for (let i = 0; i < rows.length; i += BATCH_ROWS) {
          await this.buckets.addCounts(rows.slice(i, i + BATCH_ROWS), manager);
        }
        for (let i = 0; i < touched.length; i += BATCH_ROWS) {
          await this.keys.touchLastUsed(touched.slice(i, i + BATCH_ROWS), manager);
        }
      });
    } catch (err) {
      this.restore(rows, touched, since);
      this.writingSince = null;
      const failingFor = this.failingSince === null ? 0 : Date.now() - this.failingSince;
      // The first failure, then one line a minute while it lasts: silence would read as recovered.
      if (this.failingSince === null || failingFor >= (this.lastWarnedAt ?? 0) + 60_000) {
        this.lastWarnedAt = failingFor;
        this.logger.warn(
          `usage counts not written, kept for the next flush (failing for ${Math.round(failingFor / 1000)} s, oldest count ${Math.round(this.lagSeconds())} s old): ${(err as Error).message}`,
        );
      }
      this.failingSince ??= Date.now();
      return 0;
    }
    this.writingSince = null;
    if (this.failingSince !== null) this.logger.log('usage counts written again');
    this.failingSince = null;
    this.lastWarnedAt = null;
    this.metrics.usageFlushRows.observe(rows.length);
    return rows.length;
  }

  /** Puts back counts whose write failed, merged with what arrived meanwhile. */
  private restore(rows: Pending[], touched: Array<[string, number]>, since: number | null): void {
    for (const [keyId, at] of touched) this.usageOf(keyId, at);
    for (const row of rows) add(this.pending.get(row.keyId)!.rows, row.keyId, row.bucket, row.outcome, row.count);
    if (since !== null) this.pendingSince = Math.min(since, this.pendingSince ?? since);
  }
}

/** Adds to the row of this hour and outcome, or starts one. */
function add(rows: Pending[], keyId: string, bucket: number, outcome: string, count: number): void {
  for (const row of rows) {
    if (row.bucket === bucket && row.outcome === outcome) {
      row.count += count;
      return;
    }
  }
  rows.push({ keyId, bucket, outcome, count });
}
