import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type Key, type UsageReport } from './api';
import { ProblemBox, useLoad, when } from './ui';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export const RANGES = [
  { id: '24h', label: '24 hours', hours: 24 },
  { id: '7d', label: '7 days', hours: 24 * 7 },
  { id: '30d', label: '30 days', hours: 24 * 30 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

const OUTCOME_COLOURS: Record<string, string> = {
  valid: '#1b7f3b',
  revoked: '#b3261e',
  expired: '#6b6b6b',
  rate_limited: '#c76a00',
  insufficient_scope: '#6a3fb5',
  usage_exceeded: '#8a5a00',
  client_suspended: '#4a4a8a',
  environment_mismatch: '#00708a',
  ip_not_allowed: '#a0306e',
  not_found: '#444444',
  malformed: '#999999',
};
const SPARE_COLOURS = ['#2f6fb0', '#7a7a00', '#b05a2f', '#2f9e8f'];
const KEY_COLOURS = ['#8a8a8a', '#2f6fb0'];

export interface Dataset {
  label: string;
  data: number[];
  colour: string;
}

/** The query of an hourly report over the last `hours`, whole hours. */
export function rangeQuery(range: RangeId) {
  const hours = RANGES.find((r) => r.id === range)!.hours;
  const to = new Date();
  to.setUTCMinutes(0, 0, 0);
  to.setUTCHours(to.getUTCHours() + 1);
  const from = new Date(to.getTime() - hours * 3600_000);
  return { granularity: 'hour', from: from.toISOString(), to: to.toISOString() };
}

/** The hours of a report, oldest first, as ISO strings: the buckets the API leaves out are zeros. */
function slots(report: UsageReport): string[] {
  const out: string[] = [];
  for (let t = Date.parse(report.from); t < Date.parse(report.to); t += 3600_000) out.push(new Date(t).toISOString());
  return out;
}

function perSlot(report: UsageReport, hours: string[], pick: (b: UsageReport['buckets'][number]) => number) {
  const index = new Map(hours.map((h, i) => [h, i]));
  const data = hours.map(() => 0);
  for (const bucket of report.buckets) {
    const i = index.get(new Date(bucket.start).toISOString());
    if (i !== undefined) data[i] += pick(bucket);
  }
  return data;
}

/** A report's calls per hour, one dataset per outcome. */
export function byOutcome(report: UsageReport): { labels: string[]; datasets: Dataset[] } {
  const hours = slots(report);
  const outcomes = Object.keys(report.totals.outcomes).sort((a, b) =>
    a === 'valid' ? -1 : b === 'valid' ? 1 : a < b ? -1 : 1,
  );
  let spare = 0;
  const datasets = outcomes.map((outcome) => ({
    label: outcome,
    data: perSlot(report, hours, (b) => b.outcomes[outcome] ?? 0),
    colour: OUTCOME_COLOURS[outcome] ?? SPARE_COLOURS[spare++ % SPARE_COLOURS.length],
  }));
  return { labels: hours, datasets };
}

/** Two keys of a rotation on one time line: each key's calls per hour. */
export function byKey(reports: Array<{ label: string; report: UsageReport }>): {
  labels: string[];
  datasets: Dataset[];
} {
  const hours = slots(reports[0].report);
  return {
    labels: hours,
    datasets: reports.map(({ label, report }, i) => ({
      label,
      data: perSlot(report, hours, (b) => b.total),
      colour: KEY_COLOURS[i % KEY_COLOURS.length],
    })),
  };
}

function hourLabel(iso: string): string {
  return `${iso.slice(5, 10)} ${iso.slice(11, 13)}h`;
}

/** The chart's words: what a screen reader hears, and what anyone can read without the chart. */
export function summarise(datasets: Dataset[]): string {
  const sums = datasets.map((d) => ({ label: d.label, total: d.data.reduce((a, b) => a + b, 0) }));
  const total = sums.reduce((a, s) => a + s.total, 0);
  if (total === 0) return 'No calls in this range.';
  return `${total} call${total === 1 ? '' : 's'}: ${sums
    .filter((s) => s.total > 0)
    .map((s) => `${s.label} ${s.total}`)
    .join(', ')}.`;
}

/** Stacked hourly bars (Chart.js on a canvas), with the same numbers as text and as a table. */
export function StackedBars({ title, labels, datasets }: { title: string; labels: string[]; datasets: Dataset[] }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const summary = summarise(datasets);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: labels.map(hourLabel),
        datasets: datasets.map((d) => ({ label: d.label, data: d.data, backgroundColor: d.colour, borderWidth: 0 })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    });
    return () => chart.destroy();
  }, [labels, datasets]);
  const rows = labels
    .map((hour, i) => ({ hour, values: datasets.map((d) => d.data[i]) }))
    .filter((r) => r.values.some((v) => v > 0));
  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong> <span data-testid="usage-summary">{summary}</span>
      </figcaption>
      <div class="chart-canvas">
        <canvas ref={canvas} role="img" aria-label={`${title}. ${summary}`} />
      </div>
      {rows.length > 0 && (
        <details>
          <summary>Hours with calls, as a table</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">Hour (UTC)</th>
                {datasets.map((d) => (
                  <th scope="col" key={d.label}>
                    {d.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.hour}>
                  <td>{hourLabel(r.hour)}</td>
                  {r.values.map((v, i) => (
                    <td key={i}>{v}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </figure>
  );
}

export function RangePicker({ value, onChange }: { value: RangeId; onChange: (r: RangeId) => void }) {
  return (
    <div class="range" role="group" aria-label="Time range">
      {RANGES.map((r) => (
        <button type="button" key={r.id} aria-pressed={value === r.id} onClick={() => onChange(r.id)}>
          {r.label}
        </button>
      ))}
    </div>
  );
}

/** Hourly usage of one key or one client, stacked by outcome. */
export function UsagePanel({ path, title }: { path: string; title: string }) {
  const [range, setRange] = useState<RangeId>('24h');
  const { data, problem, reload } = useLoad(
    () => api<UsageReport>('GET', path, { query: rangeQuery(range) }),
    [path, range],
  );
  const chart = useMemo(() => (data ? byOutcome(data) : null), [data]);
  return (
    <section class="panel" aria-label={title}>
      <div class="panel-head">
        <h2>{title}</h2>
        <RangePicker value={range} onChange={setRange} />
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ProblemBox problem={problem} />
      {chart && (
        <StackedBars
          title={`Calls per hour by outcome, last ${RANGES.find((r) => r.id === range)!.label}`}
          {...chart}
        />
      )}
      {data && (
        <p class="muted">
          Last used: {data.last_used_at ? when(data.last_used_at) : 'never'}. Counts reach Keyhouse a few seconds after
          the calls.
        </p>
      )}
    </section>
  );
}

/** The old and the new key of a rotation on one chart: when callers moved from one to the other. */
export function RotationPanel({ older, newer }: { older: Key; newer: Key }) {
  const [range, setRange] = useState<RangeId>('24h');
  const { data, problem, reload } = useLoad(async () => {
    const query = rangeQuery(range);
    const [a, b] = await Promise.all([
      api<UsageReport>('GET', `/v1/keys/${older.id}/usage`, { query }),
      api<UsageReport>('GET', `/v1/keys/${newer.id}/usage`, { query }),
    ]);
    return byKey([
      { label: `old: ${older.name} (${older.hint})`, report: a },
      { label: `new: ${newer.name} (${newer.hint})`, report: b },
    ]);
  }, [older.id, newer.id, range]);
  return (
    <section class="panel" aria-label="Rotation">
      <div class="panel-head">
        <h2>Rotation: old and new key</h2>
        <RangePicker value={range} onChange={setRange} />
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <p class="muted">
        Grace period of the old key ends {when(older.grace_ends_at)}: callers still on the old key show in grey.
      </p>
      <ProblemBox problem={problem} />
      {data && <StackedBars title="Calls per hour, old and new key" {...data} />}
    </section>
  );
}
