// Checks src/ against the layering in .dependency-cruiser.cjs (docs/architecture.md) and prints
// every violation; exits 1 when there is one. `npm run depcruise`, and test/architecture.spec.ts.
//   node scripts/check-layers.mjs [baseDir] [--json]
// baseDir (default: the repository) holds the src/ to check; --json prints dependency-cruiser's
// result instead of the text report. Through dependency-cruiser's API because its command line
// refuses to start on Node.js 20, which Keyhouse supports; the API runs there.
import { cruise } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const json = args.includes('--json');
const baseDir = resolve(args.find((arg) => !arg.startsWith('--')) ?? root);

const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs'));
const { tsConfig, ...options } = config.options;
const result = await cruise(
  ['src'],
  {
    ...options,
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    outputType: json ? 'json' : 'err-long',
  },
  undefined,
  { tsConfig: extractTSConfig(join(root, tsConfig.fileName)) },
);
process.stdout.write(typeof result.output === 'string' ? result.output : JSON.stringify(result.output));
if (!json) process.exitCode = result.exitCode > 0 ? 1 : 0;
