import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeniedAttempts } from '../../src/audit/denied-attempts';
import { KeyCache } from '../../src/credentials/key-cache';
import { KeyDigest } from '../../src/credentials/key-digest';
import { readBuildInfo } from '../../src/metrics/build-info';
import { Metrics } from '../../src/metrics/metrics';
import { expectProblem, makeClient, makeKey } from '../support/factories';
import { usingPostgres } from '../support/test-app';
import { useTestApp } from '../support/use-test-app';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
}

/** The Prometheus text format's samples: `name{label="value",...} value`. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value!;
      return { name: match[1], labels, value: match[3] };
    });
}

interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;

const SUFFIXES: Record<string, string[]> = {
  // prom-client names a counter's family with its _total, as its samples.
  counter: [''],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * The text exposition format (0.0.4), read strictly: every line a HELP, a TYPE or a
 * sample; each family's HELP and TYPE once, before its samples; each sample named after
 * the family declared last, with the suffixes its type allows; label values quoted and
 * escaped; values numbers. Throws on the first line that breaks a rule.
 */
function families(text: string): Family[] {
  const found = new Map<string, Family>();
  let current: Family | undefined;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      const family = found.get(name) ?? { name, type: '', help: '', samples: [] };
      if (family.samples.length > 0) throw new Error(`${kind} of ${name} after its samples`);
      if (kind === 'TYPE') {
        if (family.type) throw new Error(`two TYPE lines for ${name}`);
        if (!(rest in SUFFIXES) && rest !== 'untyped') throw new Error(`unknown type ${rest} of ${name}`);
        family.type = rest;
      } else {
        if (family.help) throw new Error(`two HELP lines for ${name}`);
        family.help = rest;
      }
      found.set(name, family);
      current = family;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`not a HELP or TYPE line: ${line}`);
    const match =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)( -?\d+)?$/.exec(
        line,
      );
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, value] = match;
    // Values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client prints `Nan`).
    if (!/^(nan|[+-]inf|[+-]?\d+(\.\d+)?(e[+-]?\d+)?)$/i.test(value)) throw new Error(`not a value: ${line}`);
    if (!current || !current.type) throw new Error(`sample before its TYPE: ${line}`);
    if (!SUFFIXES[current.type].some((suffix) => name === current!.name + suffix))
      throw new Error(`sample ${name} is not of family ${current.name} (${current.type})`);
    const labels: Record<string, string> = {};
    for (const [, label, v] of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (label in labels) throw new Error(`label ${label} twice: ${line}`);
      labels[label] = v;
    }
    current.samples.push({ name, labels, value });
  }
  return [...found.values()];
}

const REASONS = [
  'malformed',
  'not_found',
  'revoked',
  'expired',
  'client_suspended',
  'environment_mismatch',
  'insufficient_scope',
  'ip_not_allowed',
  'usage_exceeded',
  'rate_limited',
];
const oneOf = (values: string[]) => (v: string) => values.includes(v);

/**
 * Every label name any metric may carry, and what its values may be: fixed sets for
 * ours, and the bounded vocabularies of prom-client's default process metrics.
 */
const LABELS: Record<string, (value: string) => boolean> = {
  endpoint: oneOf(['introspect', 'authorize']),
  outcome: oneOf(['valid', ...REASONS]),
  reason: oneOf(REASONS),
  event: oneOf(['hit', 'miss', 'invalidation']),
  // Pool connections; the digest secret a live key depends on (docs/operations.md, rotation).
  state: oneOf(['idle', 'used', 'current', 'older', 'unconfigured']),
  result: oneOf(['recorded', 'failed', 'dropped', 'refused', 'throttled', 'moved', 'skipped']),
  // The ids of KEY_HASH_SECRETS: the operator's own short names, a handful at most.
  secret: (v) => /^[A-Za-z0-9._-]{1,32}$/.test(v),
  le: (v) => v === '+Inf' || Number.isFinite(Number(v)),
  // The admin API's request duration: route templates only, never a path with an id in it.
  http_request_method: oneOf(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', '_OTHER']),
  http_route: (v) => /^\/[\w\-/:.*]*$/.test(v) && !/[0-9a-f]{8}-/.test(v),
  http_response_status_code: (v) => /^[1-5]\d\d$/.test(v),
  // keyhouse_build_info: the package's version and the commit.
  commit: (v) => v === 'unknown' || /^[0-9a-f]{7,40}$/.test(v),
  // Default Node.js metrics: the runtime version, V8 heap spaces, GC kinds, libuv resource types.
  version: (v) => /^v?\d+\.\d+\.\d+(-[\w.]+)?$/.test(v),
  major: (v) => /^\d+$/.test(v),
  minor: (v) => /^\d+$/.test(v),
  patch: (v) => /^\d+$/.test(v),
  space: (v) => /^[a-z_]{1,40}$/.test(v),
  kind: oneOf(['major', 'minor', 'incremental', 'weakcb']),
  type: (v) => /^[A-Za-z]{1,40}$/.test(v),
};

describe('metrics', () => {
  const app = useTestApp();

  const scrape = () => app.get('/metrics', { key: null, listener: 'management' });

  it('should serve Prometheus text without a key', async () => {
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.raw).toContain('# TYPE keyhouse_introspections_total counter');
    expect(res.raw).toContain('# TYPE keyhouse_hot_path_duration_seconds histogram');
  });

  it('should report the database pool and the key cache', async () => {
    await makeClient(app);
    const all = samples((await scrape()).raw);
    const pool = Object.fromEntries(
      all
        .filter((s) => s.name === 'keyhouse_db_pool_connections')
        .map((s) => [s.labels.state ?? 'open', Number(s.value)]),
    );
    const pending = all.filter((s) => s.name === 'keyhouse_db_pool_pending_requests').map((s) => Number(s.value));
    if (usingPostgres) {
      expect(pool).toEqual({ idle: expect.any(Number), used: expect.any(Number) });
      expect(pool.idle + pool.used).toBeGreaterThanOrEqual(1);
      expect(pool.idle + pool.used).toBeLessThanOrEqual(app.env.DB_POOL_SIZE);
      expect(pending).toEqual([expect.any(Number)]);
    } else {
      // One serialized session, neither idle nor used as a pool counts them, and no queue to report.
      expect(pool).toEqual({ open: 1 });
      expect(pending).toEqual([]);
    }
    expect(Number(all.find((s) => s.name === 'keyhouse_key_cache_entries')?.value)).toBeGreaterThanOrEqual(0);
    // Other instances' changes empty this cache at any time (PostgreSQL runs share one database), so the size is pinned.
    const size = jest.spyOn(app.app.get(KeyCache), 'size', 'get').mockReturnValue(1234);
    try {
      expect(samples((await scrape()).raw).find((s) => s.name === 'keyhouse_key_cache_entries')?.value).toBe('1234');
    } finally {
      size.mockRestore();
    }
  });

  it('should carry no key, digest, id or other unbounded value in any label', async () => {
    // Traffic of every kind this suite can make: good and bad keys, denials, a leaked key.
    const client = await makeClient(app);
    const reader = await makeKey(app, client.id, { scopes: ['admin:keys:read'] });
    const leaked = await makeKey(app, client.id);
    await app.get(`/v1/keys/${reader.id}`, { key: reader.key });
    await app.post(`/v1/keys/${reader.id}/revoke`, {}, { key: reader.key });
    await app.get('/v1/keys', { key: 'sk_live_' + 'B'.repeat(49) });
    for (const token of [reader.key, leaked.key, 'sk_live_' + 'C'.repeat(49), 'not a key']) {
      expect((await app.post('/v1/introspect', { token, scope: 'orders:read' })).status).toBe(200);
    }
    await app.call('GET', '/v1/authorize', { key: reader.key, headers: { 'x-required-scopes': 'orders:read' } });
    await app.post('/v1/keys/leaked', { key: leaked.key, source: 'metrics test' });
    await app.app.get(DeniedAttempts).settled();

    const text = (await scrape()).raw;
    const all = samples(text);
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((s) => Object.keys(s.labels).length > 0).length).toBeGreaterThan(10);
    const offending = all.flatMap((s) =>
      Object.entries(s.labels)
        .filter(([name, value]) => !LABELS[name]?.(value))
        .map(([name, value]) => `${s.name}{${name}="${value}"}`),
    );
    expect(offending).toEqual([]);
    expect(
      all.find((s) => s.name === 'keyhouse_denied_attempts_total' && s.labels.result === 'recorded'),
    ).toBeDefined();
    expect(
      all.find((s) => s.name === 'keyhouse_introspections_total' && s.labels.endpoint === 'introspect'),
    ).toBeDefined();

    const digest = app.app.get(KeyDigest);
    for (const secret of [reader.key, leaked.key, app.rootKey]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(digest.of(secret));
    }
    for (const id of [client.id, reader.id, leaked.id]) expect(text).not.toContain(id);
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });

  it('should be a valid exposition whose names follow the Prometheus conventions, each once', async () => {
    await app.get('/v1/clients', { query: { limit: '1' } });
    const text = (await scrape()).raw;
    const all = families(text);
    const names = all.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    // The registry's own view agrees with what was printed.
    const registered = await app.app.get(Metrics).registry.getMetricsAsJSON();
    expect([...names].sort()).toEqual(registered.map((m) => m.name).sort());

    const broken = all.flatMap((f) => {
      const problems: string[] = [];
      if (!f.help) problems.push('no HELP');
      if (!/^[a-z][a-z0-9_]*$/.test(f.name)) problems.push('not snake_case');
      if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push('a counter not ending in _total');
      if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`a ${f.type} ending in _total`);
      // Base units only: seconds and bytes, never milliseconds, minutes or kilobytes.
      if (
        /_(ms|milliseconds|microseconds|nanoseconds|minutes|hours|days|kb|kilobytes|mb|megabytes|percent)(_|$)/.test(
          f.name,
        )
      )
        problems.push('a unit that is not a base unit');
      if (f.type === 'histogram' && !/_(seconds|bytes|rows)$/.test(f.name))
        problems.push('a histogram without its unit');
      if (!/^(keyhouse_|process_|nodejs_|http_server_)/.test(f.name))
        problems.push('neither keyhouse_ nor a stock name');
      if (/^keyhouse_(process|nodejs)_/.test(f.name)) problems.push('a stock metric under a keyhouse_ name');
      for (const s of f.samples)
        for (const [label, value] of Object.entries(s.labels)) {
          if (label.startsWith('__')) problems.push(`reserved label ${label}`);
          if (value === 'total') problems.push(`"total" as the value of ${label}`);
        }
      return problems.map((p) => `${f.name}: ${p}`);
    });
    expect(broken).toEqual([]);

    // The stock process and Node.js metrics, under the names dashboards query.
    for (const name of [
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
      'nodejs_version_info',
      'nodejs_active_handles',
    ])
      expect(names).toContain(name);
    expect(names.filter((n) => n.startsWith('keyhouse_')).length).toBeGreaterThan(10);
  });

  it('should be what docs/operations.md lists, no more and no fewer', async () => {
    const guide = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## Scrape metrics'), guide.indexOf('## Health'));
    const documented = [...section.matchAll(/^\| `([a-z_]+)(?:\{[^`]*\})?` /gm)].map((m) => m[1]).sort();
    await app.get('/v1/clients', { query: { limit: '1' } });
    const served = families((await scrape()).raw)
      .map((f) => f.name)
      .filter((name) => !/^(process|nodejs)_/.test(name))
      .sort();
    // Every family is declared (HELP and TYPE) even while it has no sample, as keyhouse_redis_up without REDIS_URL.
    expect(served).toEqual(documented);
  });

  it('should say which version and commit run', async () => {
    const info = samples((await scrape()).raw).filter((s) => s.name === 'keyhouse_build_info');
    expect(info).toEqual([
      {
        name: 'keyhouse_build_info',
        labels: { version: PACKAGE_VERSION, commit: 'unknown' },
        value: '1',
      },
    ]);
    expect(info[0].labels.version).toMatch(/^\d+\.\d+\.\d+/);
    // KEYHOUSE_COMMIT wins over anything recorded.
    const metrics = new Metrics({ KEYHOUSE_COMMIT: '0123abcd' } as never);
    expect(await metrics.registry.metrics()).toMatch(
      /^keyhouse_build_info\{version="\d+\.\d+\.\d+[^"]*",commit="0123abcd"\} 1$/m,
    );
  });

  it('should time admin requests by method, route template and status, and leave the hot path out', async () => {
    const client = await makeClient(app);
    const key = await makeKey(app, client.id);
    expect((await app.get(`/v1/keys/${key.id}`)).status).toBe(200);
    expect((await app.get(`/v1/keys/${client.id}`)).status).toBe(404);
    expect((await app.post('/v1/introspect', { token: key.key })).status).toBe(200);
    const all = samples((await scrape()).raw);
    const count = (labels: Record<string, string>) =>
      Number(
        all.find(
          (s) =>
            s.name === 'http_server_request_duration_seconds_count' &&
            Object.entries(labels).every(([k, v]) => s.labels[k] === v),
        )?.value ?? 0,
      );
    const route = { http_request_method: 'GET', http_route: '/v1/keys/:id' };
    expect(count({ ...route, http_response_status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(count({ ...route, http_response_status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(count({ http_route: '/v1/introspect' })).toBe(0);
    expect(all.some((s) => s.name === 'http_server_request_duration_seconds_bucket' && s.labels.le === '0.005')).toBe(
      true,
    );
  });

  it('should not serve /metrics on the public listener while the management listener is its own', async () => {
    const res = await app.get('/metrics', { key: null });
    expectProblem(res, 404);
    // And the management listener serves neither the API nor the docs.
    expectProblem(
      await app.get('/v1/clients', { listener: 'management', skipOpenApiValidation: 'the API, on the wrong listener' }),
      404,
    );
    expect(
      (
        await app.get('/docs-json', {
          key: null,
          listener: 'management',
          skipOpenApiValidation: 'the document, on the wrong listener',
        })
      ).status,
    ).toBe(404);
  });
});

describe('metrics on the one listener', () => {
  // MANAGEMENT_PORT equal to PORT: no second listener, /metrics where the API is.
  const app = useTestApp({ PORT: 8080, MANAGEMENT_PORT: 8080 });

  it('should serve /metrics on the public listener', async () => {
    const res = await app.get('/metrics', { key: null });
    expect(res.status).toBe(200);
    expect(res.raw).toContain('# TYPE keyhouse_build_info gauge');
  });
});

describe(readBuildInfo.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyhouse-build-info-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'keyhouse', version: '2.3.4' }));
    mkdirSync(join(dir, 'dist', 'src', 'metrics'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should read the version from package.json and the commit the build recorded', () => {
    const from = join(dir, 'dist', 'src', 'metrics');
    expect(readBuildInfo('', from)).toEqual({ version: '2.3.4', commit: 'unknown' });
    writeFileSync(join(dir, 'dist', 'build-info.json'), JSON.stringify({ commit: 'f9de1c7aaaa' }));
    expect(readBuildInfo('', from)).toEqual({ version: '2.3.4', commit: 'f9de1c7aaaa' });
    expect(readBuildInfo('beef123', from)).toEqual({ version: '2.3.4', commit: 'beef123' });
  });
});
