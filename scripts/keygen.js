// Prints a fresh, well-formed Keyhouse key: `npm run keygen [-- live|test]`.
// Useful for BOOTSTRAP_ROOT_KEY; the key means nothing until Keyhouse registers it.
// No build: the service's own key format (src/credentials/key-format.ts) is loaded through TypeScript's
// transpiler, or, where the dev dependencies are pruned, from the build in dist/.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function keyFormat() {
  const source = join(root, 'src', 'credentials', 'key-format.ts');
  let ts;
  try {
    if (!existsSync(source)) throw new Error('no sources');
    ts = require('typescript');
  } catch {
    const built = join(root, 'dist', 'src', 'credentials', 'key-format.js');
    if (!existsSync(built)) {
      process.stderr.write('keygen needs the dev dependencies (npm ci) or a build (npm run build)\n');
      process.exit(69); // EX_UNAVAILABLE
    }
    return require(built);
  }
  const { sep } = require('node:path');
  // The service's sources, and the client package's, where the key format's parsing lives.
  const sources = [join(root, 'src') + sep, join(root, 'packages', 'client', 'src') + sep];
  const previous = require.extensions['.ts'];
  // Transpile only (no type check), as CommonJS: just the few files key-format.ts imports.
  require.extensions['.ts'] = (module, filename) => {
    if (!sources.some((dir) => filename.startsWith(dir))) {
      if (previous) return previous(module, filename);
      throw new Error(`keygen loads TypeScript from src/ and packages/client/src/ only, not ${filename}`);
    }
    const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2023, esModuleInterop: true },
    });
    module._compile(outputText, filename);
  };
  return require(source);
}

const { ENVIRONMENTS, generateKey } = keyFormat();
const environment = process.argv[2] ?? 'live';
if (!ENVIRONMENTS.includes(environment)) {
  process.stderr.write(`usage: npm run keygen -- [${ENVIRONMENTS.join('|')}]\n`);
  process.exit(64);
}
process.stdout.write(`${generateKey(environment)}\n`);
