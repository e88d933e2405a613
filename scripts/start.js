// `npm start`: builds the service (dist/) and the console (console/dist/) when missing or older than their
// sources, then runs the service in this same process. npm hands SIGTERM and SIGINT to the one process under it (the script is `exec`ed, no shell stays in
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
/** Runs a build step with this Node.js; a failure stops the start with the step's exit status. */
function build(what, script, args) {
  process.stderr.write(`building ${what} (its output is missing or older than its sources)\n`);
  try {
    execFileSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  } catch (err) {
    process.stderr.write(`the build of ${what} failed (${err.message.split('\n')[0]}): not starting\n`);
    process.exit(typeof err.status === 'number' && err.status > 0 ? err.status : 1);
  }
}

/** Whether `output` is missing or older than any of `inputs` (paths under the repository). */
function stale(output, inputs) {
  return !existsSync(output) || newest(inputs.map((p) => join(root, p))) > statSync(output).mtimeMs;
}

if (stale(main, sources)) build('the service', require.resolve('@nestjs/cli/bin/nest.js'), ['build']);
// The console (/console) is static files built by Vite into console/dist.
const consolePage = join(root, 'console', 'dist', 'index.html');
const consoleSources = [
  'console/src',
  'console/index.html',
  'console/vite.config.mts',
  'console/tsconfig.json',
  'package.json',
];
if (stale(consolePage, consoleSources))
  build('the console', join(root, 'node_modules', 'vite', 'bin', 'vite.js'), ['build', 'console']);
require(main);
