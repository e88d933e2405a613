import type { DbCounters } from './database';
import type { LoadResult } from './load';
import type { Machine } from './machine';

/** One measured run, with the CPU time the server process spent on it. */
export interface RoundResult extends LoadResult {
  /** The server process's CPU time (user + system) per request: steadier than req/s on a shared machine. */
  cpuUsPerRequest: number;
}

/** One side of a case, over every round: medians of the rounds' figures, sums of counts. */
export interface SideFigures {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  errors: number;
  requests: number;
  rounds: RoundResult[];
}

export interface CaseResult {
  id: string;
  title: string;
  service: SideFigures | null;
  baseline: SideFigures | null;
  baselineKind: string | null;
  /** service req/s over baseline req/s: the median of the rounds' ratios (see pairedRatio). */
  ratio: number | null;
  p99Ratio: number | null;
  serviceRssMb: number | null;
  /** What PostgreSQL counted during the service's first runs (warm-up and measurement): `requests` of them over `seconds`. */
  database: (DbCounters & { requests: number; seconds: number }) | null;
  note?: string;
}

export interface Target {
  id: string;
  text: string;
  status: 'MET' | 'NOT MET' | 'NOT MEASURED';
  figure: string;
}

export interface Report {
  machine: Machine;
  profile: Record<string, unknown>;
  cases: CaseResult[];
  writes: (DbCounters & { introspections: number; workload: string }) | null;
  targets: Target[];
  notes: string[];
  startedAt: string;
  minutes: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * The ratio of two sides measured alternately: the median of each round's service figure
 * over the baseline's figure of the same round. Other work on a shared machine comes and
 * goes within seconds; a round's two sides, measured back to back, see about the same load.
 */
export function pairedRatio(
  service: RoundResult[],
  baseline: RoundResult[],
  figure: (r: RoundResult) => number,
): number {
  return median(service.map((s, i) => figure(s) / figure(baseline[i])));
}

export function figures(rounds: RoundResult[]): SideFigures | null {
  if (rounds.length === 0) return null;
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    rounds,
  };
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function printReport(report: Report, write: (line: string) => void): void {
  const m = report.machine;
  write('');
  write(
    `Machine: ${m.cores} cores, ${m.cpu}, ${m.memoryGb} GB, ${m.os}; Node ${m.node}; ${m.database}${m.redis ? `; ${m.redis}` : ''}`,
  );
  write(
    `Commit ${m.commit}; load average at start ${m.loadAverageAtStart.join(' ')}, at end ${m.loadAverageAtEnd?.join(' ') ?? '-'}; CPU time taken by the host (steal) ${m.stealPercent == null ? 'not counted here' : `${m.stealPercent}%`}`,
  );
  write(
    `Profile: ${Object.entries(report.profile)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ')}`,
  );
  write('');
  const header = ['case', 'side', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'ratio', 'CPU µs/req', 'RSS MB'];
  const widths = [34, 10, 9, 7, 7, 7, 6, 11, 7];
  const row = (cells: string[]) =>
    write(cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' '));
  row(header);
  for (const c of report.cases) {
    if (!c.service) {
      row([c.title, 'skipped', '', '', '', '', '', '', '']);
      if (c.note) write(`  ${c.note}`);
      continue;
    }
    row([
      c.title,
      'service',
      fmt(c.service.rps),
      fmt(c.service.p50, 1),
      fmt(c.service.p99, 1),
      fmt(c.service.errors),
      fmt(c.ratio, 2),
      fmt(c.service.cpuUsPerRequest),
      fmt(c.serviceRssMb),
    ]);
    if (c.baseline)
      row([
        '',
        c.baselineKind ?? 'baseline',
        fmt(c.baseline.rps),
        fmt(c.baseline.p50, 1),
        fmt(c.baseline.p99, 1),
        fmt(c.baseline.errors),
        '',
        fmt(c.baseline.cpuUsPerRequest),
        '',
      ]);
    if (c.database) {
      const d = c.database;
      write(
        `  PostgreSQL during ${fmt(d.requests)} service requests: ${fmt(d.digestLookups)} key lookups (${fmt(d.digestLookups / d.requests, 3)} per request), ${fmt(d.transactions)} transactions`,
      );
    }
    if (c.note) write(`  ${c.note}`);
  }
  write(
    "ratio: service req/s over its baseline's, the median of the rounds' ratios (each round measures both sides back to back). CPU µs/req: CPU time of the server process alone per request (PostgreSQL's own is not in it), steadier than req/s when other work shares the machine.",
  );
  if (report.writes) {
    const w = report.writes;
    write('');
    write(
      `Database writes for ${fmt(w.introspections)} introspections (${w.workload}): ${fmt(w.rowsWritten)} rows written, ${fmt(w.transactions)} transactions committed (reads included)` +
        (w.writeStatements !== null ? `, ${fmt(w.writeStatements)} write statements` : ''),
    );
  }
  write('');
  write('Targets:');
  for (const t of report.targets) write(`  ${t.status.padEnd(12)} ${t.text}: ${t.figure}`);
  if (report.notes.length > 0) {
    write('');
    for (const n of report.notes) write(`Note: ${n}`);
  }
  write('');
  write(`Finished in ${fmt(report.minutes, 1)} minutes.`);
}
