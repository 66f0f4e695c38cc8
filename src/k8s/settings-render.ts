// Renders a namespace's effective settings into the `sidewall-settings` ConfigMap the sidecars
// mount (the format is a contract with the Sidewall container: settings.yaml + exclusions.conf).
import { parse } from 'yaml';
import type { WafSettings } from './annotations.js';

export const SETTINGS_CONFIGMAP = 'sidewall-settings';
export const SETTINGS_FILE = 'settings.yaml';
export const EXCLUSIONS_FILE = 'exclusions.conf';
export const STAGED_EXCLUSIONS_FILE = 'staged-exclusions.conf';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'sidewall';

export interface ConfigMapLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
  data?: Record<string, string> | null;
}

/**
 * The exclusion rules of an exclusions ConfigMap: its `exclusions.conf` key, else every key
 * ending in `.conf` concatenated in key order (each ending in a newline).
 */
export function exclusionsFromConfigMap(cm: ConfigMapLike | null): string {
  const data = cm?.data ?? {};
  if (typeof data[EXCLUSIONS_FILE] === 'string') return data[EXCLUSIONS_FILE];
  return Object.keys(data)
    .filter((k) => k.endsWith('.conf'))
    .sort()
    .map((k) => (data[k]!.endsWith('\n') || data[k] === '' ? data[k]! : data[k] + '\n'))
    .join('');
}

/** A name as a YAML scalar: bare as in the contract, quoted when YAML would read it otherwise ("123", "true"). */
function plain(name: string): string {
  let back: unknown;
  try {
    back = parse(name);
  } catch {
    back = undefined;
  }
  return back === name ? name : JSON.stringify(name);
}

/** settings.yaml, keys in the contract's order; optional keys omitted when unset. */
export function renderSettingsYaml(namespace: string, s: WafSettings, hasExclusions: boolean, hasStagedExclusions = false): string {
  const lines = [
    'version: 1',
    `namespace: ${plain(namespace)}`,
    `waf: ${s.waf}`,
    `mode: ${s.mode}`,
    `paranoia_level: ${s.paranoiaLevel}`,
  ];
  if (s.anomalyThreshold !== undefined) lines.push(`anomaly_threshold: ${s.anomalyThreshold}`);
  lines.push(`exclusions: ${hasExclusions}`);
  if (s.eventsWebhook !== undefined) lines.push(`events_webhook_secret: ${plain(s.eventsWebhook)}`);
  const st = s.staged;
  if (st !== undefined) {
    if (st.mode !== undefined) lines.push(`staged_mode: ${st.mode}`);
    if (st.paranoiaLevel !== undefined) lines.push(`staged_paranoia_level: ${st.paranoiaLevel}`);
    if (st.anomalyThreshold !== undefined) lines.push(`staged_anomaly_threshold: ${st.anomalyThreshold}`);
    if (st.exclusions !== undefined) lines.push(`staged_exclusions: ${hasStagedExclusions}`);
    if (st.sampleRate !== undefined) lines.push(`staged_sample_rate: ${st.sampleRate}`);
  }
  return lines.join('\n') + '\n';
}

/** The whole ConfigMap object as the controller writes it. */
export function renderSettingsConfigMap(
  namespace: string,
  s: WafSettings,
  exclusions: string,
  stagedExclusions = '',
): ConfigMapLike & { apiVersion: string; kind: string } {
  const data: Record<string, string> = {
    [SETTINGS_FILE]: renderSettingsYaml(namespace, s, exclusions !== '', stagedExclusions !== ''),
    [EXCLUSIONS_FILE]: exclusions,
  };
  // Only when staged exclusions are configured: existing ConfigMaps keep their exact data.
  if (s.staged?.exclusions !== undefined) data[STAGED_EXCLUSIONS_FILE] = stagedExclusions;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: SETTINGS_CONFIGMAP, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    data,
  };
}

/**
 * Reads back a settings.yaml we rendered earlier — after a controller restart it is the last
 * valid setting to keep when an annotation has become invalid. null when unreadable.
 */
export function parseRenderedSettings(text: string): WafSettings | null {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r.version !== 1) return null;
  if (r.waf !== 'enabled' && r.waf !== 'disabled') return null;
  if (r.mode !== 'block' && r.mode !== 'detect') return null;
  if (typeof r.paranoia_level !== 'number' || r.paranoia_level < 1 || r.paranoia_level > 4) return null;
  const s: WafSettings = { waf: r.waf, mode: r.mode, paranoiaLevel: r.paranoia_level };
  if (typeof r.anomaly_threshold === 'number') s.anomalyThreshold = r.anomaly_threshold;
  if (typeof r.events_webhook_secret === 'string') s.eventsWebhook = r.events_webhook_secret;
  const staged: NonNullable<WafSettings['staged']> = {};
  if (r.staged_mode === 'block' || r.staged_mode === 'detect') staged.mode = r.staged_mode;
  if (typeof r.staged_paranoia_level === 'number' && r.staged_paranoia_level >= 1 && r.staged_paranoia_level <= 4) staged.paranoiaLevel = r.staged_paranoia_level;
  if (typeof r.staged_anomaly_threshold === 'number') staged.anomalyThreshold = r.staged_anomaly_threshold;
  if (typeof r.staged_sample_rate === 'number' && r.staged_sample_rate > 0 && r.staged_sample_rate <= 1) staged.sampleRate = r.staged_sample_rate;
  if (Object.keys(staged).length > 0) s.staged = staged;
  return s;
}

/** Whether an existing ConfigMap already holds exactly what we would write. */
export function sameData(a: Record<string, string> | null | undefined, b: Record<string, string>): boolean {
  const ak = Object.keys(a ?? {}).sort();
  const bk = Object.keys(b).sort();
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && a![k] === b[k]);
}
