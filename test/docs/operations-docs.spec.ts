import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeClient, makeKey } from '../support/factories';
import { TestApp } from '../support/test-app';

/**
 * docs/operations.md's commands as a reader runs them: its own helpers (no jq), plain
 * HTTP, and the answers it shows. Runs the set-up block, then following a rotation and
 * auditing a change, against the service on a real port.
 */
const ROOT = join(__dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const setup = /<!-- operations-setup:start -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';

/** The documented range is in the past: the last hour instead, up to now. */
const LAST_HOUR = 'from=$(date -u -d "-1 hour" +%Y-%m-%dT%H:00:00Z)';

/** The shell lines of the document's code blocks that contain `text`, indentation removed. */
function commandWith(text: string): string {
  const line = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1].split('\n'))
    .find((l) => l.includes(text));
  if (!line) throw new Error(`docs/operations.md has no command with ${text}`);
  return line.trim();
}

describe('docs/operations.md', () => {
  it('should need nothing but curl and Node.js, against the plain-HTTP service, with the README helpers', () => {
    expect(doc).not.toMatch(/\|\s*jq\b/);
    expect(setup).toMatch(/^export KEYHOUSE=http:\/\/localhost:8080\b/m);
    for (const helper of ['kh() {', 'json() {']) {
      const line = (text: string) => text.split('\n').find((l) => l.startsWith(helper));
      expect(line(setup)).toBeDefined();
      expect(line(setup)).toBe(line(readme));
    }
  });

  it('should follow a rotation and audit it with the commands as written', async () => {
    const app = await TestApp.start();
    const cwd = mkdtempSync(join(tmpdir(), 'keyhouse-operations-'));
    try {
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      const client = await makeClient(app);
      const old = await makeKey(app, client.id);
      const script = [
        setup.replaceAll('http://localhost:8080', await app.app.getUrl()).replace(/^export ROOT_KEY=.*$/m, ''),
        `OLD=${old.id}`,
        `${commandWith('/rotate" -d')} > successor.json`,
        'NEW=$(json id < successor.json)',
        'echo "--- watch"',
        commandWith('| pick status grace_ends_at replaced_by used_since_rotation'),
        'echo "--- buckets"',
        commandWith('$OLD/usage?').replace(/from=[^"]*/, LAST_HOUR),
        'echo "--- totals"',
        commandWith('$NEW/usage?').replace(/from=[^"]*/, LAST_HOUR),
        commandWith('/revoke" -d'),
        'KEY_ID=$OLD',
        'echo "--- audit"',
        commandWith('action=key.revoked&target=$KEY_ID'),
        'ACTOR_KEY_ID=$(kh "$KEYHOUSE/v1/audit-events?target=$OLD&limit=1" | json "data[0].actor_key_id")',
        'echo "--- actor"',
        commandWith('$ACTOR_KEY_ID" | pick'),
      ].join('\n');
      const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
        cwd,
        env: { ...process.env, ROOT_KEY: app.rootKey },
      });
      const part = (name: string) => stdout.split(`--- ${name}\n`)[1].split('\n--- ')[0];

      const shown = /2\. \*\*Watch the old key\*\*[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)![1];
      const watched = JSON.parse(part('watch')) as Record<string, unknown>;
      expect(Object.keys(watched)).toEqual(Object.keys(JSON.parse(shown) as object));
      expect(watched).toMatchObject({ status: 'expiring', used_since_rotation: { count: 0 } });
      expect(part('buckets').trim()).toBe('[]');
      expect(part('totals')).toContain('total');
      expect(part('audit')).toContain("action: 'key.revoked'");
      expect(part('audit')).toContain("reason: 'callers moved to the successor'");
      expect(JSON.parse(part('actor'))).toEqual({
        name: expect.any(String),
        client_id: expect.any(String),
        hint: expect.stringMatching(/^sk_live_/),
      });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
      await app.close();
    }
  }, 120_000);
});
