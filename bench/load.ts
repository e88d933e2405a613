/**
 * The load generator, in its own process so it never shares the measured server's event
 * loop. It receives one `LoadSpec` at a time over IPC, runs autocannon and answers with a
 * `LoadResult`.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Sent as is, unless `tokensFile` is given. */
  body?: string;
  /** One token per line; each request picks one at random and puts it in `template`. */
  tokensFile?: string;
  /** JSON body or header value with `{{token}}` where the picked token goes. */
  template?: string;
  /** Where the picked token goes: the body (default) or this header. */
  tokenHeader?: string;
  connections: number;
  /** Either a duration or an exact number of requests. */
  durationSeconds?: number;
  amount?: number;
  expectStatus: number;
  /** Every response body must contain this, or it counts as an error. */
  expectBodyIncludes?: string;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts, wrong statuses and wrong bodies. */
  errors: number;
  statuses: Record<string, number>;
}

type Instance = autocannon.Options;

const tokenFiles = new Map<string, string[]>();
function tokens(file: string): string[] {
  let list = tokenFiles.get(file);
  if (!list) {
    list = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    tokenFiles.set(file, list);
  }
  return list;
}

function options(spec: LoadSpec): Instance {
  const base: Instance = {
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    connections: spec.connections,
    pipelining: 1,
    timeout: 10,
  };
  if (spec.expectBodyIncludes) {
    const needle = spec.expectBodyIncludes;
    base.verifyBody = (body: string) => body.includes(needle);
  }
  if (!spec.tokensFile) return { ...base, requests: [{ method: spec.method, path: spec.path, body: spec.body }] };
  const list = tokens(spec.tokensFile);
  const [before, after] = (spec.template ?? '{{token}}').split('{{token}}') as [string, string];
  const pick = (): string => before + list[Math.floor(Math.random() * list.length)] + after;
  const header = spec.tokenHeader;
  // About 4 µs of the load generator's time per request: small beside what a server spends.
  const setupRequest = (request: autocannon.Request): autocannon.Request => {
    if (header) request.headers = { ...request.headers, [header]: pick() };
    else request.body = pick();
    return request;
  };
  return { ...base, requests: [{ method: spec.method, path: spec.path, setupRequest }] };
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const measured = spec.amount ? { amount: spec.amount } : { duration: spec.durationSeconds ?? 5 };
  const result = await autocannon({ ...options(spec), ...measured });
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  const wrongStatus = answered - (statuses[String(spec.expectStatus)] ?? 0);
  return {
    requests: answered,
    seconds: result.duration,
    rps: answered / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + wrongStatus + result.mismatches,
    statuses,
  };
}

process.on('message', (spec: LoadSpec) => {
  run(spec).then(
    (result) => process.send?.({ ok: true, result }),
    (err: Error) => process.send?.({ ok: false, error: err.message }),
  );
});
