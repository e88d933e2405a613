import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout: the nearest folder above this file with the project's nest-cli.json. */
function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'nest-cli.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no nest-cli.json above ${from}`);
    dir = up;
  }
  return dir;
}

export const ROOT = findRoot(__dirname);
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
/** The build this process runs from: bench/results/build (service/ and bench/), or a run's private copy of it. */
export const BUILD_DIR = join(__dirname, '..', '..');
/** Built by `nest build --path bench/tsconfig.service.json` (see that file for why not dist/). */
export const SERVICE_MAIN = join(BUILD_DIR, 'service', 'src', 'main.js');
