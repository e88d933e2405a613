import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/** The checkout's files as a clone would have them: tracked, and new ones not ignored; none of node_modules, dist, data. */
export function checkoutFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return listed
    .split('\0')
    .filter(Boolean)
    .filter((file) => existsSync(join(ROOT, file)) && statSync(join(ROOT, file)).isFile());
}

/** A new folder under the system's temporary folder holding the given files of the checkout (all of them by default). */
export function scratchCopy(prefix: string, files: string[] = checkoutFiles()): string {
  const folder = mkdtempSync(join(tmpdir(), `keyhouse-${prefix}-`));
  for (const file of files) {
    mkdirSync(dirname(join(folder, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(folder, file));
  }
  return folder;
}
