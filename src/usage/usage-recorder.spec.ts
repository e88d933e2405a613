import { KeysRepository } from '../store/keys.repository';
import { UsageRepository } from '../store/usage.repository';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config';
import type { Metrics } from '../metrics/metrics';
import { UsageRecorder } from './usage-recorder';

const HOUR = 3_600_000;
const T = Date.UTC(2026, 11, 3, 10, 59, 59, 0);

/** What one flush's statements carried: usage rows and last-use times. */
interface Written {
  rows: Array<[string, number, string, number]>;
  touched: Array<[string, number]>;
}

/** The repositories the recorder writes through: their statements run on the fake manager. */
const repositories = () =>
  [new UsageRepository({} as DataSource), new KeysRepository({} as DataSource, {} as never)] as const;

/** A data source whose transactions run `during` (calls arriving mid-flush), then fail or record what they were asked to write. */
function fakeDatabase(during: () => void, fail: () => boolean) {
  const written: Written[] = [];
  const dataSource = {
    transaction: async (
      work: (manager: { query(sql: string, params: unknown[][]): Promise<void> }) => Promise<void>,
    ) => {
      during();
      if (fail()) throw new Error('connection terminated');
      const flush: Written = { rows: [], touched: [] };
      await work({
        query: async (sql, params) => {
          if (sql.includes('usage_buckets')) {
            const [ids, buckets, outcomes, counts] = params as [string[], Date[], string[], number[]];
            ids.forEach((id, i) => flush.rows.push([id, buckets[i].getTime(), outcomes[i], counts[i]]));
          } else {
            const [ids, ats] = params as [string[], Date[]];
            ids.forEach((id, i) => flush.touched.push([id, ats[i].getTime()]));
          }
        },
      });
      written.push(flush);
    },
  };
  return { dataSource: dataSource as unknown as DataSource, written };
}

const metrics = {
  usageFlushRows: { observe: () => undefined },
  observeUsageLag: () => undefined,
} as unknown as Metrics;

describe('UsageRecorder', () => {
  it("counts per key, hour and outcome, and keeps each key's latest use", async () => {
    const { dataSource, written } = fakeDatabase(
      () => undefined,
      () => false,
    );
    const recorder = new UsageRecorder(dataSource, {} as AppConfig, metrics, ...repositories());
    recorder.record('a', 'valid', T);
    recorder.record('a', 'valid', T - 5);
    recorder.record('a', 'valid', T + 1000); // 11:00:00, the next hour
    recorder.record('a', 'revoked', T);
    recorder.record('b', 'valid', T);
    expect(await recorder.flush()).toBe(4);
    const bucket = T - (T % HOUR);
    expect(written).toEqual([
      {
        rows: [
          ['a', bucket, 'revoked', 1],
          ['a', bucket, 'valid', 2],
          ['a', bucket + HOUR, 'valid', 1],
          ['b', bucket, 'valid', 1],
        ],
        touched: [
          ['a', T + 1000],
          ['b', T],
        ],
      },
    ]);
    expect(await recorder.flush()).toBe(0);
  });

  it('puts back the counts of a failed flush, merged with those that arrived during it', async () => {
    let failures = 1;
    let arrivals: Array<[string, string, number]> = [
      ['a', 'valid', T + 10],
      ['c', 'expired', T + 20],
    ];
    const { dataSource, written } = fakeDatabase(
      () => {
        for (const [key, outcome, at] of arrivals) recorder.record(key, outcome, at);
        arrivals = [];
      },
      () => failures-- > 0,
    );
    const recorder = new UsageRecorder(dataSource, {} as AppConfig, metrics, ...repositories());
    recorder.record('a', 'valid', T);
    recorder.record('a', 'valid', T + 30);
    recorder.record('b', 'valid', T);
    expect(await recorder.flush()).toBe(0);
    expect(await recorder.flush()).toBe(3);
    const bucket = T - (T % HOUR);
    expect(written).toEqual([
      {
        rows: [
          ['a', bucket, 'valid', 3],
          ['b', bucket, 'valid', 1],
          ['c', bucket, 'expired', 1],
        ],
        touched: [
          ['a', T + 30],
          ['b', T],
          ['c', T + 20],
        ],
      },
    ]);
  });

  it('should report the age of counts taken by a write that has not committed, and be not writing once it is older than the bound', async () => {
    let finish!: () => void;
    const stuck = new Promise<void>((resolve) => (finish = resolve));
    const dataSource = { transaction: () => stuck } as unknown as DataSource;
    const env = { USAGE_FLUSH_INTERVAL_MS: 1000, DB_STATEMENT_TIMEOUT_MS: 1000 } as AppConfig;
    const recorder = new UsageRecorder(dataSource, env, metrics, ...repositories());
    const at = Date.now();
    recorder.record('a', 'valid', at - 2000);
    const flushing = recorder.flush();
    // The write has the counts but has not committed: they are still owed.
    expect(recorder.lagSeconds(at)).toBeCloseTo(2, 1);
    expect(recorder.writing(at)).toBe(true);
    expect(recorder.writing(at - 2000 + recorder.lagLimitMs() + 1)).toBe(false);
    finish();
    await flushing;
    expect(recorder.lagSeconds()).toBe(0);
    expect(recorder.writing()).toBe(true);
  });

  it('should keep counts through failed writes, say since when they fail, and write every count once the database answers', async () => {
    let failing = true;
    const { dataSource, written } = fakeDatabase(
      () => undefined,
      () => failing,
    );
    const recorder = new UsageRecorder(
      dataSource,
      { USAGE_FLUSH_INTERVAL_MS: 1000, DB_STATEMENT_TIMEOUT_MS: 1000 } as AppConfig,
      metrics,
      ...repositories(),
    );
    recorder.record('a', 'valid', T);
    for (let i = 0; i < 3; i++) expect(await recorder.flush()).toBe(0);
    expect(recorder.failingFrom).not.toBeNull();
    expect(recorder.lagSeconds(T + 5000)).toBe(5);
    failing = false;
    expect(await recorder.flush()).toBe(1);
    expect(written.flatMap((w) => w.rows)).toEqual([['a', T - (T % HOUR), 'valid', 1]]);
    expect(recorder.failingFrom).toBeNull();
    expect(recorder.lagSeconds()).toBe(0);
  });
});
