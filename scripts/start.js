// `npm start`: builds the service when dist/ is missing or older than its sources, then runs it in this same
// process. npm hands SIGTERM and SIGINT to the one process under it (the script is `exec`ed, no shell stays in
// between), so a signal sent to npm, or to this process, reaches the service, which stops gracefully and exits 0.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const main = join(root, 'dist', 'src', 'main.js');

/** The newest modification time under the given paths (folders walked), 0 when none exists. */
function newest(paths) {
  let latest = 0;
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const stat = statSync(path);
    if (stat.isDirectory()) latest = Math.max(latest, newest(readdirSync(path).map((name) => join(path, name))));
    else latest = Math.max(latest, stat.mtimeMs);
  }
  return latest;
}

const sources = [
  'src',
  'migrations',
  'scripts',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
  'package.json',
];
if (!existsSync(main) || newest(sources.map((p) => join(root, p))) > statSync(main).mtimeMs) {
  process.stderr.write('building the service (dist/ is missing or older than the sources)\n');
  try {
    execFileSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch (err) {
    process.stderr.write(`the build failed (${err.message.split('\n')[0]}): not starting\n`);
    process.exit(typeof err.status === 'number' && err.status > 0 ? err.status : 1);
  }
}
require(main);
