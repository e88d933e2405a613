import { Histogram, Registry, type Metric } from 'prom-client';
import { DECISION_BOUNDS, HOT_ENDPOINTS, HotPathTally, TallyHistogram } from './hot-path-tally';

describe('TallyHistogram', () => {
  const NAME = 'keyhouse_hot_path_duration_seconds';
  const HELP = 'Time to decide.';

  /** The same observations through the tallies and through prom-client's own Histogram. */
  async function bothTexts(observations: Array<[(typeof HOT_ENDPOINTS)[number], number]>): Promise<[string, string]> {
    const tallies = { introspect: new HotPathTally(), authorize: new HotPathTally() };
    const ours = new Registry();
    ours.registerMetric(new TallyHistogram(NAME, HELP, tallies) as unknown as Metric);
    const theirs = new Registry();
    const reference = new Histogram({
      name: NAME,
      help: HELP,
      labelNames: ['endpoint'],
      buckets: [...DECISION_BOUNDS],
      registers: [theirs],
    });
    for (const [endpoint, seconds] of observations) {
      tallies[endpoint].record('valid', seconds);
      reference.observe({ endpoint }, seconds);
    }
    return [await ours.metrics(), await theirs.metrics()];
  }

  it('prints what prom-client prints for the same observations, bounds themselves included', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const observations: Array<[(typeof HOT_ENDPOINTS)[number], number]> = [
      ...DECISION_BOUNDS.map((bound): ['introspect', number] => ['introspect', bound]),
      ['authorize', 0],
      ['authorize', 2.5],
      ...Array.from({ length: 500 }, (): [(typeof HOT_ENDPOINTS)[number], number] => [
        random() < 0.5 ? 'introspect' : 'authorize',
        random() ** 4 * 1.5,
      ]),
    ];
    const [ours, theirs] = await bothTexts(observations);
    expect(ours).toContain(`${NAME}_bucket{le="0.001",endpoint="introspect"}`);
    expect(ours).toBe(theirs);
  });

  it('shows an endpoint only once it has decided something, as prom-client does', async () => {
    const [ours, theirs] = await bothTexts([['authorize', 0.0003]]);
    expect(ours).not.toContain('endpoint="introspect"');
    expect(ours).toBe(theirs);
  });

  it('counts decisions by outcome', () => {
    const tally = new HotPathTally();
    tally.record('valid', 0.001);
    tally.record('revoked', 0.001);
    tally.record('valid', 0.002);
    expect(Object.fromEntries(tally.outcomes)).toEqual({ valid: 2, revoked: 1 });
    expect(tally.count).toBe(3);
  });
});
