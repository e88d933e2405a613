// Records the commit a build was made from in dist/build-info.json, read by keyhouse_build_info
// at start-up (src/metrics/build-info.ts): KEYHOUSE_COMMIT when set (a container build passes it
// in), else what git says when the build runs in a checkout, else nothing ("unknown").
//   node scripts/write-build-info.mjs   (run by `npm run build`, as its postbuild step)
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '';
  }
}

if (existsSync(dist)) {
  const commit = process.env.KEYHOUSE_COMMIT || gitCommit();
  writeFileSync(join(dist, 'build-info.json'), `${JSON.stringify({ commit })}\n`);
}
