import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What `keyhouse_build_info` says about the running code. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/** Written next to the compiled code by `npm run build` (scripts/write-build-info.mjs). */
export const BUILD_INFO_FILE = 'build-info.json';

/**
 * The package's version, and the commit it was built from: `commit` when given (the
 * KEYHOUSE_COMMIT variable), else the commit `npm run build` recorded, else `unknown`.
 * Read once at start-up from files; git is never asked at run time.
 */
export function readBuildInfo(commit = '', from = __dirname): BuildInfo {
  let recorded: string | undefined;
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, BUILD_INFO_FILE);
    if (recorded === undefined && existsSync(file)) recorded = readCommit(file);
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown };
      return {
        version: typeof version === 'string' ? version : 'unknown',
        commit: commit || recorded || 'unknown',
      };
    }
    if (dirname(dir) === dir) return { version: 'unknown', commit: commit || recorded || 'unknown' };
  }
}

function readCommit(file: string): string | undefined {
  try {
    const { commit } = JSON.parse(readFileSync(file, 'utf8')) as { commit?: unknown };
    return typeof commit === 'string' && commit !== '' ? commit : undefined;
  } catch {
    return undefined;
  }
}
