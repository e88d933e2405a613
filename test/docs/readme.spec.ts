import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getMetadataStorage } from 'class-validator';
import { AppConfig } from '../../src/config/config';
import { TestApp } from '../support/test-app';

/** The README promises things a reader will try: its configuration table and its walk-through must be true. */
const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
const variables = [
  ...new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(AppConfig, '', true, false)
      .map((m) => m.propertyName),
  ),
];
const defaults = new AppConfig() as unknown as Record<string, unknown>;

type Json = Record<string, unknown>;

/** A JSON value's fields and their types, at every depth: what a reader relies on in a sample answer. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [shapeOf(value[0])] : [];
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, shapeOf((value as Json)[k])]),
  );
}

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('README', () => {
  it('should have found the configuration variables', () => {
    expect(variables).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'KEY_HASH_SECRET', 'BOOTSTRAP_ROOT_KEY', 'TRUSTED_PROXIES']),
    );
  });

  it.each(variables)('should document %s in the configuration table, with its default, and in .env.example', (name) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row).toBeDefined();
    const cell = row!.split('|')[2].trim();
    const value = defaults[name];
    if (value === undefined) expect(cell).toMatch(/^(unset|generated)$/);
    else if (value === '') expect(cell).toBe('empty');
    else expect(cell).toBe(`\`${String(value as string | number | boolean)}\``);
    expect(envExample).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
  });

  const curl = hasCurl();
  if (!curl) process.stderr.write('\nSKIPPED the README walk-through test: curl is not installed.\n\n');

  (curl ? it : it.skip)(
    'should run the curl walk-through as written: scope, client, key, rotation, revocation',
    async () => {
      const app = await TestApp.start();
      const cwd = mkdtempSync(join(tmpdir(), 'keyhouse-readme-'));
      try {
        await app.app.listen({ port: 0, host: '127.0.0.1' });
        const section = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1] ?? '';
        const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
        expect(blocks.length).toBeGreaterThan(5);
        // Only where it runs and, as the suites may share a database, a scope name of its own.
        const scope = `readme${Date.now()}:read`;
        const script = blocks
          .join('\n')
          .replaceAll('http://localhost:8080', await app.app.getUrl())
          .replaceAll('orders:read', scope);
        const { stdout } = await promisify(execFile)(
          'bash',
          ['-euo', 'pipefail', '-c', `${script}\necho "KEY_ID=$KEY_ID NEW_KEY_ID=$NEW_KEY_ID"`],
          {
            cwd,
            env: { ...process.env, ROOT_KEY: app.rootKey },
          },
        );

        const [, oldId, newId] = /KEY_ID=(\S+) NEW_KEY_ID=(\S+)/.exec(stdout) ?? [];
        const old = await app.get(`/v1/keys/${oldId}`);
        expect(old.body).toMatchObject({
          status: 'revoked',
          revoked_reason: 'rotated out',
          replaced_by: newId,
          scopes: [scope],
        });
        const successor = await app.get(`/v1/keys/${newId}`);
        expect(successor.body).toMatchObject({ status: 'active', replaces: oldId, scopes: [scope] });
        expect(stdout).toContain('"action":"key.revoked"');

        // Each answer shown in the walk-through has the fields, and the types, of the real one.
        const answers = stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Json);
        const samples = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as Json);
        expect(answers).toHaveLength(samples.length);
        samples.forEach((sample, i) => expect(shapeOf(answers[i])).toEqual(shapeOf(sample)));
        // The service introspected the successor, and the sample cursor is one the service writes.
        expect(answers.find((a) => 'active' in a)).toMatchObject({ active: true, sub: newId, scope });
        for (const page of [answers.at(-1)!, samples.at(-1)!]) {
          const last = (page.data as Json[]).at(-1)!;
          const cursor = JSON.parse(Buffer.from(page.next_cursor as string, 'base64url').toString('utf8')) as unknown;
          expect(cursor).toEqual([last.occurred_at, last.id]);
        }
      } finally {
        rmSync(cwd, { recursive: true, force: true });
        await app.close();
      }
    },
    120_000,
  ); // a real port and a dozen curl processes
});
