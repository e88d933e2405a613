/**
 * A gauge without labels whose value is read at each scrape, and which is left out of
 * the exposition while there is nothing to read (null): prom-client's own Gauge always
 * prints a label-less series, 0 when never set, which would read as "down" for a
 * dependency that is not configured.
 */
export class ReadGauge {
  readonly type = 'gauge' as const;
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | null | Promise<number | null>,
  ) {}

  async get(): Promise<{
    name: string;
    help: string;
    type: 'gauge';
    aggregator: 'sum';
    values: Array<{ labels: Record<string, never>; value: number }>;
  }> {
    const value = await this.read();
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: value === null ? [] : [{ labels: {}, value }],
    };
  }
}
