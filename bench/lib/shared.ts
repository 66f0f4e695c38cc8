// One configurable location for the read-only test corpora (CRS, libinjection, SecLang vectors).
// SIDEWALL_SHARED overrides; the default is ../shared beside the repository checkout.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();
export const SHARED_DIR = resolve(process.env.SIDEWALL_SHARED ?? join(REPO_ROOT, '..', 'shared'));

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}
