/** The hot endpoints, as the `endpoint` label names them. */
export const HOT_ENDPOINTS = ['introspect', 'authorize'] as const;
export type HotEndpoint = (typeof HOT_ENDPOINTS)[number];

/** Upper bounds of the decision-time histogram's buckets, in seconds. */
export const DECISION_BOUNDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
] as const;

/**
 * One hot endpoint's decisions, counted as plain numbers: by outcome, and by time taken
 * in the decision histogram's buckets. prom-client's own counter and histogram children
 * hash their labels on every call (about 1.5 µs together, a few per cent of a cached
 * call); these are read into the metrics at each scrape instead.
 */
export class HotPathTally {
  /** Decisions by outcome (`valid` or a reason code), since the start. */
  readonly outcomes = new Map<string, number>();
  /** Decisions per bucket: index i counts times up to DECISION_BOUNDS[i] (and above the one before); the last, above them all. */
  readonly buckets: number[] = new Array<number>(DECISION_BOUNDS.length + 1).fill(0);
  sum = 0;

  /** Decisions in all. */
  get count(): number {
    return this.buckets.reduce((a, b) => a + b, 0);
  }

  record(outcome: string, seconds: number): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    let i = 0;
    while (i < DECISION_BOUNDS.length && seconds > DECISION_BOUNDS[i]) i++;
    this.buckets[i]++;
    this.sum += seconds;
  }
}

/**
 * The decision-time histogram as the registry reads any metric (through `get()`), from
 * the tallies: the same series prom-client's Histogram would show for the same
 * observations, an endpoint appearing once it has decided something.
 */
export class TallyHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly tallies: Readonly<Record<HotEndpoint, HotPathTally>>,
  ) {}

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] } {
    const values: Sample[] = [];
    for (const endpoint of HOT_ENDPOINTS) {
      const tally = this.tallies[endpoint];
      const count = tally.count;
      if (count === 0) continue;
      let cumulative = 0;
      DECISION_BOUNDS.forEach((le, i) => {
        cumulative += tally.buckets[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le, endpoint }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', endpoint }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { endpoint }, value: tally.sum });
      values.push({ metricName: `${this.name}_count`, labels: { endpoint }, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** One line of a metric as prom-client's registry prints it. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}
