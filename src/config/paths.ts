// Locations inside the installed package, found from this module's own location so they work
// both from src/ (ts) and from dist/src/ (compiled), and from a global npm install.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('sidewall package root not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Directory holding package.json, proto/ and rules/. */
export const PACKAGE_ROOT = findPackageRoot();

/** Root of the vendored .proto files. */
export const PROTO_DIR = join(PACKAGE_ROOT, 'proto');

/** The embedded rule set entry file (OWASP CRS v4 + Sidewall setup). */
export const DEFAULT_RULES_FILE = join(PACKAGE_ROOT, 'rules', 'main.conf');

let version: string | null = null;

/** The package version from package.json. */
export function packageVersion(): string {
  if (version === null) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return version;
}
