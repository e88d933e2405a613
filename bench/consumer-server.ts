/**
 * The consumer case's two services (bench/consumer.ts): the same node:http service, checking
 * the caller's key on every request either through the client package (a cached key: a local
 * answer, kept fresh by the change stream) or with a bare Map lookup of the token.
 *
 *   node consumer-server.js --mode package|map --port N --keyhouse URL --service-key KEY --token TOKEN
 */
import { createServer } from 'node:http';
import { createVerifier } from '../packages/client/src/index';
import { extractKey } from '../packages/client/src/extract-key';

const args = process.argv.slice(2);
const option = (name: string): string => {
  const at = args.indexOf(name);
  if (at < 0) throw new Error(`${name} is required`);
  return args[at + 1];
};
const mode = option('--mode');
const token = option('--token');
const known = new Map<string, { clientId: string }>([[token, { clientId: 'bench' }]]);
const verifier =
  mode === 'package' ? createVerifier({ url: option('--keyhouse'), key: option('--service-key') }) : null;
const OK = Buffer.from('{"ok":true}');

const server = createServer((req, res) => {
  const key = extractKey(req.headers)?.key;
  const answer = (good: boolean) => {
    res.writeHead(good ? 200 : 401, { 'content-type': 'application/json' });
    res.end(good ? OK : '{"ok":false}');
  };
  if (!key) return answer(false);
  if (!verifier) return answer(known.has(key));
  verifier.verify(key).then(
    (decision) => answer(decision.active),
    () => {
      res.writeHead(503).end();
    },
  );
});

async function main(): Promise<void> {
  if (verifier) {
    const until = Date.now() + 10_000;
    while (verifier.status().stream !== 'up' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (verifier.status().stream !== 'up') throw new Error('the change stream did not come up');
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    if (!first.active || !second.cached) throw new Error('the bench key is not answered from the cache');
  }
  server.listen(Number(option('--port')), '127.0.0.1', () => process.send?.('ready'));
}

process.on('SIGTERM', () => {
  void verifier?.close();
  server.close(() => process.exit(0));
});
void main().catch((error: Error) => {
  process.stderr.write(`consumer server: ${error.message}\n`);
  process.exit(1);
});
