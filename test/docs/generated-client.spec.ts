import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseKey } from '../../src/credentials/key-format';
import { OPENAPI_FILE } from '../support/openapi-validation';
import { useTestApp } from '../support/use-test-app';

/**
 * What another team does with the committed document: generate TypeScript types with
 * openapi-typescript, write a client with openapi-fetch, type-check it with tsc, and
 * run it against the service over HTTP. A document the tools cannot read, types that
 * do not fit the API, or a client that the service answers differently all fail here.
 */
const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
// Per process: two test runs at once must not compile each other's half-written files.
const WORK = join(ROOT, 'test-artifacts', 'generated-client', String(process.pid));

/** The client script: issue, rotate and revoke a key, then try a second rotation (a 409 problem). */
const SCRIPT = `import createClient from 'openapi-fetch';
import type { components, paths } from './keyhouse-api.js';

type Key = components['schemas']['KeyResponse'];
type Problem = components['schemas']['ProblemResponse'];

const keyhouse = createClient<paths>({
  baseUrl: process.env.KEYHOUSE_URL,
  headers: { Authorization: \`Bearer \${process.env.KEYHOUSE_ROOT_KEY}\` },
});

function must<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) throw new Error(\`\${result.response.status}: \${JSON.stringify(result.error)}\`);
  return result.data;
}

const client = must(await keyhouse.POST('/v1/clients', { body: { name: \`generated-client-\${Date.now()}\` } }));
const issued = must(
  await keyhouse.POST('/v1/clients/{id}/keys', {
    params: { path: { id: client.id } },
    body: { environment: 'test', name: 'issued by a generated client', ttl_seconds: 3600 },
  }),
);
const rotated = must(
  await keyhouse.POST('/v1/keys/{id}/rotate', { params: { path: { id: issued.id } }, body: { grace_period_seconds: 60 } }),
);
const revoked: Key = must(
  await keyhouse.POST('/v1/keys/{id}/revoke', { params: { path: { id: rotated.id } }, body: { reason: 'generated client test' } }),
);
const again = await keyhouse.POST('/v1/keys/{id}/rotate', { params: { path: { id: issued.id } }, body: {} });
const conflict: Problem | undefined = again.error;

// The types are strict: an environment the API does not have, or a field it does not take, does not compile.
// @ts-expect-error environment is 'live' | 'test'
await keyhouse.POST('/v1/clients/{id}/keys', { params: { path: { id: client.id } }, body: { environment: 'staging', name: 'never sent' } }).catch(() => null);
const status: 'active' | 'expiring' | 'expired' | 'revoked' = revoked.status;

process.stdout.write(JSON.stringify({ client, issued, rotated, revoked, status, conflict, conflictStatus: again.response.status }));
`;

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    skipLibCheck: true,
    types: ['node'],
    outDir: 'out',
  },
  files: ['client.mts', 'keyhouse-api.d.ts'],
};

describe('a client generated from openapi/openapi.json', () => {
  let base: string;
  const app = useTestApp();
  beforeAll(async () => {
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(WORK, { recursive: true });
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.app.getUrl();
  });
  afterAll(() => {
    rmSync(WORK, { recursive: true, force: true });
  });

  it('should generate, type-check, and issue, rotate and revoke a key against the running service', async () => {
    await run(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
        OPENAPI_FILE,
        '-o',
        join(WORK, 'keyhouse-api.d.ts'),
      ],
      { cwd: ROOT },
    );
    writeFileSync(join(WORK, 'client.mts'), SCRIPT);
    writeFileSync(join(WORK, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', WORK], {
      cwd: ROOT,
    }).catch((err: Error & { stdout?: string }) => {
      throw new Error(`the generated client does not type-check:\n${err.stdout ?? err.message}`);
    });

    const { stdout } = await run(process.execPath, [join(WORK, 'out', 'client.mjs')], {
      cwd: WORK,
      env: { ...process.env, KEYHOUSE_URL: base, KEYHOUSE_ROOT_KEY: app.rootKey },
    });
    const result = JSON.parse(stdout);

    expect(parseKey(result.issued.key)).toEqual({ environment: 'test', key: result.issued.key });
    expect(result.issued).toMatchObject({ client_id: result.client.id, environment: 'test', status: 'active' });
    expect(parseKey(result.rotated.key)).not.toBeNull();
    expect(result.rotated.key).not.toBe(result.issued.key);
    expect(result.rotated).toMatchObject({ replaces: result.issued.id, client_id: result.client.id });
    expect(result.revoked).toMatchObject({
      id: result.rotated.id,
      status: 'revoked',
      revoked_reason: 'generated client test',
    });
    expect(result.revoked).not.toHaveProperty('key');
    expect(result.conflictStatus).toBe(409);
    expect(result.conflict).toMatchObject({ type: 'urn:keyhouse:problem:conflict', status: 409 });

    const old = await app.get(`/v1/keys/${result.issued.id}`);
    expect(old.body).toMatchObject({ status: 'expiring', replaced_by: result.rotated.id });
  }, 180_000); // code generation, tsc and a child process
});
