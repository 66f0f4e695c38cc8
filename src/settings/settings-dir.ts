// Reads a settings directory. Two layouts:
//   sidecar (one namespace):   DIR/settings.yaml (+ DIR/exclusions.conf)
//   shared gateway:            DIR/<namespace>/settings.yaml (+ exclusions.conf), one per namespace
// DIR/settings.yaml existing directly means the sidecar layout. Names starting with '.' are skipped:
// Kubernetes ConfigMap volumes keep their real files in ..data / ..<timestamp> directories and
// expose them through symlinks, which are followed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ExclusionRules } from './effective.js';
import { isNamespaceName, parseSettingsText, type NamespaceSettings } from './settings-file.js';
import { SettingsError } from './values.js';

export const SETTINGS_FILE = 'settings.yaml';
export const EXCLUSIONS_FILE = 'exclusions.conf';
export const STAGED_EXCLUSIONS_FILE = 'staged-exclusions.conf';

export interface NamespaceSource {
  /** The directory name (gateway layout) or the file's namespace key (sidecar layout). */
  namespace: string | null;
  settings: NamespaceSettings;
  exclusions: ExclusionRules | null;
  /** The staged policy's exclusion rules (staged_exclusions: true). */
  stagedExclusions: ExclusionRules | null;
}

export type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

export type SettingsSnapshot =
  | { layout: 'single'; dir: string; entry: Loaded<NamespaceSource> }
  | { layout: 'multi'; dir: string; missing: boolean; namespaces: Map<string, Loaded<NamespaceSource>> };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readText(path: string, encoding: BufferEncoding): string {
  try {
    return readFileSync(path, encoding);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SettingsError(`settings ${path}: cannot read: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
}

/** Reads one namespace's settings.yaml and exclusions.conf. Throws SettingsError naming the file. */
export function readNamespaceDir(dir: string, directoryNamespace: string | null): NamespaceSource {
  const file = join(dir, SETTINGS_FILE);
  const settings = parseSettingsText(readText(file, 'utf8'), file);
  if (directoryNamespace !== null && settings.namespace !== null && settings.namespace !== directoryNamespace) {
    throw new SettingsError(`settings ${file}: namespace: ${JSON.stringify(settings.namespace)} does not match its directory ${JSON.stringify(directoryNamespace)}`);
  }
  const rulesFile = (flag: boolean, key: string, name: string): ExclusionRules | null => {
    if (!flag) return null;
    const exFile = join(dir, name);
    if (!isFile(exFile)) throw new SettingsError(`settings ${file}: ${key}: true but ${exFile} does not exist`);
    // SecLang files are byte strings (one char per byte), as the rule reader reads them.
    return { text: readText(exFile, 'latin1'), file: exFile };
  };
  const exclusions = rulesFile(settings.exclusions, 'exclusions', EXCLUSIONS_FILE);
  const stagedExclusions = rulesFile(settings.stagedExclusions, 'staged_exclusions', STAGED_EXCLUSIONS_FILE);
  return { namespace: directoryNamespace ?? settings.namespace, settings, exclusions, stagedExclusions };
}

function load(dir: string, namespace: string | null): Loaded<NamespaceSource> {
  try {
    return { ok: true, value: readNamespaceDir(dir, namespace) };
  } catch (err) {
    if (err instanceof SettingsError) return { ok: false, error: err.message };
    throw err;
  }
}

/** Reads the whole directory; per-namespace problems are returned, never thrown. */
export function readSettingsDir(dir: string): SettingsSnapshot {
  if (isFile(join(dir, SETTINGS_FILE))) return { layout: 'single', dir, entry: load(dir, null) };
  const namespaces = new Map<string, Loaded<NamespaceSource>>();
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return { layout: 'multi', dir, missing: true, namespaces };
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const sub = join(dir, name);
    // A namespace directory without settings.yaml (yet) is not a namespace Sidewall serves.
    if (!isDirectory(sub) || !isFile(join(sub, SETTINGS_FILE))) continue;
    if (!isNamespaceName(name)) {
      namespaces.set(name, { ok: false, error: `settings ${sub}: directory name is not a Kubernetes namespace name` });
      continue;
    }
    namespaces.set(name, load(sub, name));
  }
  return { layout: 'multi', dir, missing: false, namespaces };
}
