import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The package's two builds (tsc with tsconfig.esm.json and tsconfig.cjs.json) load as ES modules and as CommonJS. */
const run = promisify(execFile);
const PACKAGE = join(__dirname, '..');
const TSC = join(PACKAGE, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');

describe('the client package build', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'keyhouse-client-build-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('should compile to ESM and CJS, each with declarations, and load either way with the same exports', async () => {
    for (const kind of ['esm', 'cjs']) {
      await run(process.execPath, [TSC, '-p', join(PACKAGE, `tsconfig.${kind}.json`), '--outDir', join(out, kind)]);
      for (const entry of ['index', 'admin', 'express', 'fastify', 'nest', 'hono']) {
        expect([
          kind,
          entry,
          existsSync(join(out, kind, `${entry}.js`)),
          existsSync(join(out, kind, `${entry}.d.ts`)),
        ]).toEqual([kind, entry, true, true]);
      }
      writeFileSync(join(out, kind, 'package.json'), JSON.stringify({ type: kind === 'esm' ? 'module' : 'commonjs' }));
    }
    const names = (code: string, type: 'module' | 'commonjs') =>
      run(process.execPath, [`--input-type=${type}`, '-e', code], { cwd: out }).then(({ stdout }) =>
        JSON.parse(stdout),
      );
    const esm = await names(
      `const m = await import(${JSON.stringify(join(out, 'esm', 'index.js'))}); console.log(JSON.stringify(Object.keys(m).sort()))`,
      'module',
    );
    const cjs = await names(
      `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(join(out, 'cjs', 'index.js'))})).sort()))`,
      'commonjs',
    );
    expect(esm).toEqual(cjs);
    expect(esm).toEqual(
      expect.arrayContaining(['createVerifier', 'parseKey', 'KeyhouseUnavailableError', 'extractKey']),
    );
    const parsed = await names(
      `const { parseKey } = require(${JSON.stringify(join(out, 'cjs', 'index.js'))}); console.log(JSON.stringify(parseKey('sk_live_nope')))`,
      'commonjs',
    );
    expect(parsed).toBeNull();
  }, 120_000);
});
