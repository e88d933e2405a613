/**
 * The consumer case (issue 18): a service verifying a cached key through the client package,
 * against the same service doing a bare Map lookup (target: at least 0.9 of its rate); and the
 * revocation delay at the consumer, from the revoke's answer until the package refuses the key
 * it had cached (target: p99 under 100 ms).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { createVerifier } from '../packages/client/src/index';
import type { LoadGenerator } from './processes';
import { freePort } from './processes';
import type { Seed } from './seed';

export interface ConsumerResult {
  packageRps: number;
  mapRps: number;
  ratio: number;
  revocation: { trials: number; p50: number; p99: number; max: number };
  notes: string[];
}

interface Options {
  url: string;
  rootKey: string;
  seed: Seed;
  loader: LoadGenerator;
  seconds: number;
  connections: number;
  rounds: number;
  log: (line: string) => void;
}

export async function runConsumerCase(options: Options): Promise<ConsumerResult> {
  const { seed, loader, log } = options;
  const token = seed.cached.token;
  const servers = {
    package: await startConsumer('package', options.url, seed.caller.token, token),
    map: await startConsumer('map', options.url, seed.caller.token, token),
  };
  const rps: Record<'package' | 'map', number[]> = { package: [], map: [] };
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const mode of round % 2 === 0 ? (['map', 'package'] as const) : (['package', 'map'] as const)) {
        const result = await loader.run({
          url: servers[mode].url,
          method: 'GET',
          path: '/orders',
          headers: { authorization: `Bearer ${token}` },
          connections: options.connections,
          durationSeconds: options.seconds,
          expectStatus: 200,
        });
        if (result.errors > 0) throw new Error(`consumer (${mode}): ${result.errors} errors`);
        rps[mode].push(result.rps);
        log(`consumer ${mode}, round ${round + 1}: ${Math.round(result.rps)} requests/s`);
      }
    }
  } finally {
    await Promise.all([stop(servers.package.child), stop(servers.map.child)]);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const packageRps = median(rps.package);
  const mapRps = median(rps.map);
  const revocation = await revocationDelay(options);
  const ratio = packageRps / mapRps;
  const notes = [
    `consumer: a cached key through the client package ${Math.round(packageRps)}/s, a bare Map lookup ${Math.round(mapRps)}/s: ${ratio.toFixed(2)} of it (target 0.9).`,
    `consumer: a revoked, cached key refused after p50 ${revocation.p50.toFixed(1)} ms, p99 ${revocation.p99.toFixed(1)} ms, max ${revocation.max.toFixed(1)} ms over ${revocation.trials} revocations (target p99 < 100 ms).`,
  ];
  for (const note of notes) log(note);
  return { packageRps, mapRps, ratio, revocation, notes };
}

/** Issues, caches and revokes keys one at a time, timing each refusal from the revoke's answer. */
async function revocationDelay(options: Options, trials = 100): Promise<ConsumerResult['revocation']> {
  const admin = (path: string, body: unknown) =>
    fetch(options.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.rootKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (res) => {
      if (!res.ok) throw new Error(`POST ${path}: ${res.status}`);
      return (await res.json()) as { id: string; key: string };
    });
  const verifier = createVerifier({ url: options.url, key: options.seed.caller.token });
  const delays: number[] = [];
  try {
    while (verifier.status().stream !== 'up') await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < trials; i++) {
      const seen = verifier.status().lastEventId;
      const key = await admin(`/v1/clients/${options.seed.customersClientId}/keys`, {
        environment: 'live',
        name: `consumer revocation ${i}`,
      });
      while (verifier.status().lastEventId === seen) await new Promise((r) => setTimeout(r, 1));
      await verifier.verify(key.key);
      if (!(await verifier.verify(key.key)).cached) throw new Error('the key was not cached');
      await admin(`/v1/keys/${key.id}/revoke`, { reason: 'bench' });
      const answeredAt = performance.now();
      while ((await verifier.verify(key.key)).active) {
        if (performance.now() - answeredAt > 10_000) throw new Error('a revoked key was still good after 10 s');
        await new Promise((r) => setImmediate(r));
      }
      delays.push(performance.now() - answeredAt);
    }
  } finally {
    await verifier.close();
  }
  delays.sort((a, b) => a - b);
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)];
  return { trials, p50: at(0.5), p99: at(0.99), max: delays[delays.length - 1] };
}

async function startConsumer(
  mode: 'package' | 'map',
  keyhouse: string,
  serviceKey: string,
  token: string,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const args = ['--mode', mode, '--port', String(port), '--keyhouse', keyhouse, '--service-key', serviceKey];
  const child = fork(join(__dirname, 'consumer-server.js'), [...args, '--token', token], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the ${mode} consumer exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
