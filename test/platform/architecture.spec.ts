import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The layering of docs/architecture.md, checked by dependency-cruiser with .dependency-cruiser.cjs:
 * no folder of src/ imports one of its own level or above, and there is no import cycle.
 */
const ROOT = join(__dirname, '..', '..');

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

/** Runs scripts/check-layers.mjs (dependency-cruiser's API; it is ES modules only) on baseDir's src/. */
async function violations(baseDir: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'scripts', 'check-layers.mjs'), baseDir, '--json'],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  expect(result.summary.totalCruised).toBeGreaterThan(0);
  return result.summary.violations.map((v) =>
    v.cycle
      ? `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')}`
      : `${v.rule.name}: ${v.from} -> ${v.to}`,
  );
}

describe('architecture', () => {
  it('should keep src/ to its layers, without import cycles', async () => {
    // On failure the list names each import to remove; docs/architecture.md says which way each may go.
    expect(await violations(ROOT)).toEqual([]);
  }, 60_000);

  it('should report an upward import, an import within one level, a cycle and an unlisted folder', async () => {
    const found = await violations(join(ROOT, 'test', 'fixtures', 'layering'));
    expect(found.sort()).toEqual([
      'layer-clients: src/clients/client-label.ts -> src/scopes/scope-label.ts',
      'layer-config: src/config/settings.ts -> src/common/label.ts',
      'no-circular: src/common/cycle-a.ts -> src/common/cycle-b.ts -> src/common/cycle-a.ts',
      'unlisted-folder: src/main.ts -> src/extras/extra.ts',
    ]);
  }, 60_000);
});
