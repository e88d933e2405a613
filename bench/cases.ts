import { countersDelta, type SettledCounters } from './database';
import type { LoadSpec } from './load';
import type { Baseline, LoadGenerator, Service } from './processes';
import { figures, pairedRatio, type CaseResult, type RoundResult } from './report';
import { BENCH_SCOPE, type Seed } from './seed';

type Spec = Omit<LoadSpec, 'durationSeconds' | 'amount'>;

export interface CaseDefinition {
  id: string;
  title: string;
  /** 1: about 1,000 keys in the database; 2: the large key set; 3: the cache turned off. */
  phase: 1 | 2 | 3;
  baseline: 'map' | 'pg';
  spec: (url: string, connections: number) => Spec;
  /** In the full run, count key lookups in PostgreSQL around the case's first service run. */
  countDb?: boolean;
  /**
   * Count in PostgreSQL from before the case until the service has stopped, in every mode:
   * a graceful stop makes the service's connections publish their statistics at once,
   * instead of up to 10 s later. The case must be the phase's last.
   */
  countUntilStop?: boolean;
  skip?: string;
}

export interface Phase {
  service: Service;
  baseline: Baseline | null;
  pgBaseline: Baseline | null;
}

interface Profile {
  rounds: number;
  warmupSeconds: number;
  measureSeconds: number;
  connections: number;
  perCaseDbCounters: boolean;
}

const INTROSPECT = `{"token":"{{token}}","scope":"${BENCH_SCOPE}"}`;

export function caseDefinitions(
  seed: Seed,
  files: { smallTokens: string; largeTokens: string; malformed: string; unknown: string },
  env: { redis: boolean; postgres: boolean; bulkLabel: string },
): CaseDefinition[] {
  const introspect = (
    url: string,
    connections: number,
    expect: string,
    tokens: { file: string } | { token: string },
  ): Spec => ({
    url,
    method: 'POST',
    path: '/v1/introspect',
    headers: { authorization: `Bearer ${seed.caller.token}`, 'content-type': 'application/json' },
    ...('file' in tokens
      ? { tokensFile: tokens.file, template: INTROSPECT }
      : { body: INTROSPECT.replace('{{token}}', tokens.token) }),
    connections,
    expectStatus: 200,
    expectBodyIncludes: expect,
  });
  const active = '"active":true';
  return [
    {
      id: 'keys-1k',
      title: '1,000 keys, random per request',
      phase: 1,
      baseline: 'map',
      countDb: true,
      spec: (url, c) => introspect(url, c, active, { file: files.smallTokens }),
    },
    {
      id: 'introspect-cached',
      title: 'introspect, cached key',
      phase: 2,
      baseline: 'map',
      spec: (url, c) => introspect(url, c, active, { token: seed.cached.token }),
    },
    {
      id: 'introspect-rate-limited',
      title: 'introspect, Redis rate limit',
      phase: 2,
      baseline: 'map',
      spec: (url, c) => introspect(url, c, active, { token: seed.rateLimited.token }),
      skip: env.redis
        ? undefined
        : 'skipped: REDIS_URL is not set (the rate limit is shared through Redis only when it is)',
    },
    {
      id: 'authorize-cached',
      title: 'authorize, cached key',
      phase: 2,
      baseline: 'map',
      spec: (url, connections) => ({
        url,
        method: 'GET',
        path: '/v1/authorize',
        connections,
        expectStatus: 204,
        headers: { authorization: `Bearer ${seed.cached.token}`, 'x-required-scopes': BENCH_SCOPE },
      }),
    },
    {
      id: 'unknown',
      title: 'unknown keys (negative cache)',
      phase: 2,
      baseline: 'map',
      countDb: true,
      spec: (url, c) => introspect(url, c, '"reason":"not_found"', { file: files.unknown }),
    },
    {
      // The same traffic as keys-1k, with a hundred times the keys in the table: what the size of the database costs.
      id: 'keys-large',
      title: `${env.bulkLabel} keys, the same 1,000 used`,
      phase: 2,
      baseline: 'map',
      countDb: true,
      spec: (url, c) => introspect(url, c, active, { file: files.smallTokens }),
    },
    {
      // Every key in play: at a few thousand calls a second most cache entries expire (CACHE_TTL_MS) before their key comes back.
      id: 'keys-large-all',
      title: `${env.bulkLabel} keys, all of them used`,
      phase: 2,
      baseline: 'map',
      countDb: true,
      spec: (url, c) => introspect(url, c, active, { file: files.largeTokens }),
    },
    {
      id: 'malformed',
      title: 'malformed keys',
      phase: 2,
      baseline: 'map',
      countUntilStop: true,
      spec: (url, c) => introspect(url, c, '"reason":"malformed"', { file: files.malformed }),
    },
    {
      id: 'cache-off',
      title: 'cache off (CACHE_TTL_MS=0)',
      phase: 3,
      baseline: 'pg',
      countDb: true,
      spec: (url, c) => introspect(url, c, active, { file: files.smallTokens }),
    },
  ];
}

/** Runs cases on one service process, alternating rounds with the baseline. */
export class BenchCases {
  constructor(
    private readonly ctx: {
      loader: LoadGenerator;
      /** PostgreSQL's counters, when the service runs on PostgreSQL. */
      counters: SettledCounters | null;
      profile: Profile;
      phase: Phase;
      log: (line: string) => void;
    },
  ) {}

  async run(def: CaseDefinition): Promise<CaseResult> {
    const { loader, counters, profile, phase, log } = this.ctx;
    const empty = {
      service: null,
      baseline: null,
      baselineKind: null,
      ratio: null,
      p99Ratio: null,
      serviceRssMb: null,
      database: null,
    };
    if (def.skip) {
      log(`${def.title}: ${def.skip}`);
      return { id: def.id, title: def.title, ...empty, note: def.skip };
    }
    const baseline = def.baseline === 'pg' ? phase.pgBaseline : phase.baseline;
    const rounds: Record<'service' | 'baseline', RoundResult[]> = { service: [], baseline: [] };
    let database: CaseResult['database'] = null;
    const wholeCase = def.countUntilStop && counters ? await counters.read() : null;
    let serviceRequests = 0;
    for (let round = 0; round < profile.rounds; round++) {
      const sides: ('service' | 'baseline')[] = !baseline
        ? ['service']
        : round % 2 === 0
          ? ['service', 'baseline']
          : ['baseline', 'service'];
      for (const side of sides) {
        const server = side === 'service' ? phase.service : baseline!;
        const spec = def.spec(server.url, profile.connections);
        // Else, in the full run, the case's first service run alone, between two complete readings.
        const counted =
          !wholeCase &&
          side === 'service' &&
          round === 0 &&
          counters !== null &&
          profile.perCaseDbCounters &&
          def.countDb === true;
        const before = counted ? await counters.read() : null;
        // The first round warms the JIT and the caches; later ones only reopen the connections.
        const warm = await loader.run({
          ...spec,
          durationSeconds: round === 0 ? profile.warmupSeconds : Math.min(1, profile.warmupSeconds),
        });
        const cpuBefore = server.cpuSeconds();
        const measured = await loader.run({ ...spec, durationSeconds: profile.measureSeconds });
        const result = { ...measured, cpuUsPerRequest: ((server.cpuSeconds() - cpuBefore) * 1e6) / measured.requests };
        if (side === 'service') serviceRequests += warm.requests + result.requests;
        const trafficSeconds = before ? (Date.now() - before.at) / 1000 : 0;
        if (side === 'service' || def.baseline === 'pg') counters?.touched();
        if (before) {
          const after = await counters!.read();
          database = {
            ...countersDelta(before.counters, after.counters),
            requests: warm.requests + result.requests,
            seconds: trafficSeconds,
          };
        }
        rounds[side].push(result);
      }
    }
    const serviceRssMb = Math.round(phase.service.rssMb());
    if (wholeCase) {
      const seconds = (Date.now() - wholeCase.at) / 1000;
      await phase.service.stop();
      await new Promise((r) => setTimeout(r, 1500));
      database = {
        ...countersDelta(wholeCase.counters, await counters!.readNow()),
        requests: serviceRequests,
        seconds,
      };
    }
    const service = figures(rounds.service)!;
    const base = figures(rounds.baseline);
    const result: CaseResult = {
      id: def.id,
      title: def.title,
      service,
      baseline: base,
      baselineKind: base ? (def.baseline === 'pg' ? 'pg base' : 'baseline') : null,
      ratio: base ? pairedRatio(rounds.service, rounds.baseline, (r) => r.rps) : null,
      p99Ratio: base ? pairedRatio(rounds.service, rounds.baseline, (r) => r.p99) : null,
      serviceRssMb,
      database,
      note: base ? undefined : def.baseline === 'pg' ? 'no pg baseline: it needs DATABASE_URL' : undefined,
    };
    const lookups = database
      ? `, ${(database.digestLookups / database.requests).toFixed(3)} key lookups per request`
      : '';
    const side = (f: typeof service) =>
      `${Math.round(f.rps)} req/s p99 ${f.p99} ms ${Math.round(f.cpuUsPerRequest)} CPU µs/req`;
    log(
      `${def.title}: service ${side(service)}` +
        (base ? `; baseline ${side(base)}; ratio ${result.ratio!.toFixed(2)}` : '') +
        `; errors ${service.errors}, RSS ${result.serviceRssMb} MB${lookups}`,
    );
    return result;
  }
}

async function introspectOnce(url: string, caller: string, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/introspect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token, scope: BENCH_SCOPE }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}/v1/introspect answered ${res.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Keeps the baseline honest: for the same token it must write the same JSON as the service
 * (rate-limit counters aside). Differences are reported, not fatal.
 */
export async function checkSameShape(serviceUrl: string, baselineUrl: string, seed: Seed): Promise<string[]> {
  const notes: string[] = [];
  for (const key of [seed.cached, seed.rateLimited]) {
    const [service, baseline] = await Promise.all([
      introspectOnce(serviceUrl, seed.caller.token, key.token),
      introspectOnce(baselineUrl, seed.caller.token, key.token),
    ]);
    if (service.active !== true)
      throw new Error(`the service does not accept the seeded key ${key.record.name}: ${JSON.stringify(service)}`);
    for (const body of [service, baseline]) {
      const limit = body.rate_limit as Record<string, unknown> | undefined;
      if (limit) {
        delete limit.remaining;
        delete limit.reset;
      }
    }
    const s = JSON.stringify(service);
    const b = JSON.stringify(baseline);
    if (s !== b)
      notes.push(
        `the baseline's answer differs from the service's for the ${key.record.name} key:\n  service  ${s}\n  baseline ${b}`,
      );
  }
  return notes;
}
