import type { CaseResult, Report, Target } from './report';

const two = (n: number) => n.toFixed(2);
const whole = (n: number) => Math.round(n).toLocaleString('en-US');

type Verdict = Pick<Target, 'status' | 'figure'>;
const notMeasured = (why: string): Verdict => ({ status: 'NOT MEASURED', figure: why });
const verdict = (met: boolean, figure: string): Verdict => ({ status: met ? 'MET' : 'NOT MET', figure });

function ratioTarget(c: CaseResult | undefined, min: number, why: string): Verdict {
  if (!c?.service) return notMeasured(c?.note ?? why);
  if (c.ratio === null) return notMeasured(c.note ?? why);
  return verdict(c.ratio >= min, `${two(c.ratio)} (${whole(c.service.rps)} vs ${whole(c.baseline!.rps)} req/s)`);
}

/**
 * The targets, each judged on the figures of this run. `lookupAllowance` is how many
 * key lookups the caller's own credential may cause in a run (its cache entry expiring).
 */
export function judge(
  report: Omit<Report, 'targets'>,
  opts: {
    bulkLabel: string;
    lookupAllowance: (seconds: number) => number;
    postgres: boolean;
    selected: (id: string) => boolean;
  },
): Target[] {
  const byId = (id: string) => report.cases.find((c) => c.id === id);
  const targets: Target[] = [];
  const add = (id: string, text: string, v: Verdict) => targets.push({ id, text, ...v });

  const cached = byId('introspect-cached');
  const ratio = ratioTarget(cached, 0.6, 'not run');
  add('introspect-cached-rps', 'introspect, cached key: >= 0.6 of the baseline req/s', ratio);
  if (cached?.service && cached.baseline && cached.p99Ratio !== null) {
    add(
      'introspect-cached-p99',
      'introspect, cached key: p99 <= 2x the baseline p99',
      verdict(cached.p99Ratio <= 2, `${two(cached.p99Ratio)}x (${cached.service.p99} vs ${cached.baseline.p99} ms)`),
    );
  } else add('introspect-cached-p99', 'introspect, cached key: p99 <= 2x the baseline p99', notMeasured('not run'));

  add(
    'authorize-cached',
    'authorize, cached key: >= 0.6 of the baseline',
    ratioTarget(byId('authorize-cached'), 0.6, 'not run'),
  );
  add('malformed', 'malformed keys: >= 0.6 of the baseline', ratioTarget(byId('malformed'), 0.6, 'not run'));

  const malformed = byId('malformed');
  if (malformed?.database && malformed.service) {
    const allowed = opts.lookupAllowance(malformed.database.seconds);
    add(
      'malformed-no-query',
      'malformed keys: no database query',
      verdict(
        malformed.database.digestLookups <= allowed,
        `${malformed.database.digestLookups} key lookups in PostgreSQL for ${whole(malformed.database.requests)} malformed keys; allowed: ${allowed}, the re-reads of the caller's own key when its cache entry expires (once per TTL, by each connection then waiting)`,
      ),
    );
  } else {
    add(
      'malformed-no-query',
      'malformed keys: no database query',
      notMeasured(
        !opts.postgres
          ? 'needs DATABASE_URL: counted from PostgreSQL statistics, which the embedded database does not keep across processes'
          : 'not run',
      ),
    );
  }

  add('unknown', 'unknown keys (negative cache): >= 0.6 of the baseline', ratioTarget(byId('unknown'), 0.6, 'not run'));
  add(
    'cache-off',
    'cache off: >= 0.8 of the pg baseline',
    ratioTarget(byId('cache-off'), 0.8, opts.postgres ? 'not run' : 'needs DATABASE_URL (the pg baseline)'),
  );

  const small = byId('keys-1k');
  const large = byId('keys-large');
  const all = byId('keys-large-all');
  const text = `${opts.bulkLabel} keys: >= 0.9 of the 1,000-key req/s`;
  if (small?.service && large?.service) {
    const raw = large.service.rps / small.service.rps;
    const allRatio = all?.service
      ? `; with all ${opts.bulkLabel} in play ${two(all.service.rps / small.service.rps)} (${whole(all.service.rps)} req/s), bound by the cache TTL, not the table`
      : '';
    // The two run minutes apart on different service processes: on a shared machine the load
    // drifts between them, so each is taken relative to its own baseline, measured alternately with it.
    if (small.ratio !== null && large.ratio !== null) {
      const r = large.ratio / small.ratio;
      add(
        'keys-large',
        text,
        verdict(
          r >= 0.9,
          `${two(r)} relative to each phase's baseline (${two(large.ratio)} vs ${two(small.ratio)}); raw ${two(raw)} (${whole(large.service.rps)} vs ${whole(small.service.rps)} req/s), the same 1,000 keys used${allRatio}`,
        ),
      );
    } else {
      add(
        'keys-large',
        text,
        verdict(
          raw >= 0.9,
          `${two(raw)} (${whole(large.service.rps)} vs ${whole(small.service.rps)} req/s, the same 1,000 keys used${allRatio})`,
        ),
      );
    }
  } else add('keys-large', text, notMeasured('not run'));

  const w = report.writes;
  if (w) {
    const per10k = (w.rowsWritten * 10_000) / w.introspections;
    const statements = w.writeStatements !== null ? `${w.writeStatements} write statements, ` : '';
    add(
      'writes',
      'database writes per 10,000 introspections: < 50',
      verdict(
        per10k < 50 && (w.writeStatements === null || w.writeStatements < 50),
        `${statements}${whole(per10k)} rows written (${w.transactions} transactions, reads included)`,
      ),
    );
  } else {
    add(
      'writes',
      'database writes per 10,000 introspections: < 50',
      notMeasured(
        !opts.postgres
          ? 'needs DATABASE_URL: measured from PostgreSQL statistics only'
          : opts.selected('writes')
            ? 'not measured'
            : 'not run (--only)',
      ),
    );
  }

  const rss = report.cases.map((c) => c.serviceRssMb).filter((r): r is number => r !== null);
  if (rss.length > 0) {
    const peak = Math.max(...rss);
    add(
      'memory',
      'resident memory after all cases: < 300 MB',
      verdict(peak < 300, `${whole(peak)} MB (highest VmRSS after a case)`),
    );
  } else add('memory', 'resident memory after all cases: < 300 MB', notMeasured('not run'));
  return targets;
}
