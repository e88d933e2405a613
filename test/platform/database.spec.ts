import { randomUUID } from 'node:crypto';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { dataSourceOptions, openEmbeddedDatabase, runMigrations } from '../../src/database/data-source';
import { ENTITIES } from '../../src/store/entities';
import { ScopeEntity } from '../../src/store/scope.entity';
import { usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';
import { createThrowawayDatabase } from '../support/throwaway-database';

/**
 * The database layer itself: transactions that really isolate (PGlite has one
 * session, so this is not free), and entities that agree with the migrations.
 */
describe('database', () => {
  describe('concurrent transactions', () => {
    const app = useTestApp();

    it(`should commit exactly the transactions that succeed, twenty at once (${usingPostgres ? 'PostgreSQL' : 'embedded'})`, async () => {
      const sut = app.app.get(DataSource);
      const run = randomUUID().slice(0, 8);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          sut.transaction(async (manager) => {
            await manager.insert(ScopeEntity, { name: `txn-${run}:n${i}`, description: 'concurrency probe' });
            // Yield between the insert and the outcome so the other nineteen get every chance to interleave.
            await manager.query('SELECT pg_sleep(0.005)');
            if (i % 2 === 1) throw new Error(`transaction ${i} fails on purpose`);
          }),
        ),
      );

      expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(10);
      const rows = await sut.query<{ name: string }[]>('SELECT name FROM scopes WHERE name LIKE $1 ORDER BY name', [
        `txn-${run}:%`,
      ]);
      const expected = Array.from({ length: 10 }, (_, k) => `txn-${run}:n${2 * k}`).sort();
      expect(rows.map((r) => r.name)).toEqual(expected);
    });
  });

  describe('entities and migrations', () => {
    it('should need no schema change after the migrations ran on a fresh database', async () => {
      await withFreshDatabase(ENTITIES, async (sut) => {
        const pending = await sut.driver.createSchemaBuilder().log();
        expect(pending.upQueries.map((q) => q.query)).toEqual([]);
      });
    });

    it('should notice an entity that has no migration', async () => {
      @Entity('drift_probe')
      class DriftProbe {
        @PrimaryColumn({ type: 'uuid' })
        id!: string;

        @Column({ type: 'text' })
        note!: string;
      }
      await withFreshDatabase([...ENTITIES, DriftProbe], async (sut) => {
        const pending = await sut.driver.createSchemaBuilder().log();
        expect(pending.upQueries.map((q) => q.query).join('\n')).toContain('CREATE TABLE "drift_probe"');
      });
    });

    (usingPostgres ? it : it.skip)(
      'should let instances that start together on an empty database apply each migration once',
      async () => {
        const fresh = await createThrowawayDatabase(process.env.DATABASE_URL!);
        const instances = [1, 2, 3].map(
          () =>
            new DataSource(
              dataSourceOptions({ DATABASE_URL: fresh.url, DB_POOL_SIZE: 2, DB_STATEMENT_TIMEOUT_MS: 10_000 }),
            ),
        );
        try {
          await Promise.all(instances.map((sut) => sut.initialize()));
          const outcomes = await Promise.allSettled(instances.map((sut) => runMigrations(sut)));
          expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status))).toEqual([
            'fulfilled',
            'fulfilled',
            'fulfilled',
          ]);
          const applied: { times: number }[] = await instances[0].query(
            'SELECT count(*)::int AS times FROM migrations GROUP BY name',
          );
          expect(applied.map((m) => m.times)).toEqual(instances[0].migrations.map(() => 1));
        } finally {
          await Promise.all(instances.filter((sut) => sut.isInitialized).map((sut) => sut.destroy()));
          await fresh.drop();
        }
      },
    );
  });
});

/**
 * Runs the migrations on a database nobody else uses: a new in-memory PGlite, or on
 * PostgreSQL a throwaway database next to the run's, dropped afterwards.
 */
async function withFreshDatabase(
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes.
  entities: Function[],
  check: (dataSource: DataSource) => Promise<void>,
): Promise<void> {
  const url = process.env.DATABASE_URL;
  let dataSource: DataSource;
  let dropDatabase = async () => {};
  if (url) {
    const fresh = await createThrowawayDatabase(url);
    dataSource = new DataSource({
      ...dataSourceOptions({ DATABASE_URL: fresh.url, DB_POOL_SIZE: 2, DB_STATEMENT_TIMEOUT_MS: 10_000 }),
      entities,
    });
    dropDatabase = fresh.drop;
  } else {
    const pglite = await openEmbeddedDatabase({ DATA_DIR: 'memory://' });
    dataSource = new DataSource({
      ...dataSourceOptions({ DATABASE_URL: undefined, DB_POOL_SIZE: 1, DB_STATEMENT_TIMEOUT_MS: 10_000 }, pglite),
      entities,
    });
  }
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await check(dataSource);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropDatabase();
  }
}
