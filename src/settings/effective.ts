// Effective settings = defaults ← namespace settings.yaml ← pod overrides, and what they mean for
// the engine. Engines are compiled once per distinct effective settings (settingsKey).
import { createHash } from 'node:crypto';
import type { EngineMode } from '../engine/api.js';
import type { NamespaceSettings } from './settings-file.js';
import type { SettingsValues, WafSwitch } from './values.js';

/** Exclusion rules (SecLang) and the file they came from, which errors name. */
export interface ExclusionRules {
  text: string;
  file: string;
}

export interface EffectiveSettings {
  waf: WafSwitch;
  /** null = the server's own mode (--mode, else the ruleset's SecRuleEngine). */
  mode: EngineMode | null;
  /** null = the ruleset's default. */
  paranoiaLevel: number | null;
  anomalyThreshold: number | null;
  exclusions: ExclusionRules | null;
}

/** What applies when nothing is set: the server's configuration. */
export interface SettingsDefaults {
  mode: EngineMode | null;
}

export function resolveSettings(
  defaults: SettingsDefaults,
  namespace: NamespaceSettings | null,
  pod: SettingsValues,
  exclusions: ExclusionRules | null = null,
): EffectiveSettings {
  const pick = <K extends keyof SettingsValues>(key: K): SettingsValues[K] => pod[key] ?? namespace?.[key];
  return {
    waf: pick('waf') ?? 'enabled',
    mode: pick('mode') ?? defaults.mode,
    paranoiaLevel: pick('paranoiaLevel') ?? null,
    anomalyThreshold: pick('anomalyThreshold') ?? null,
    exclusions: exclusions !== null && exclusions.text.trim() !== '' ? exclusions : null,
  };
}

/**
 * Identity of the engine these settings need. Equal keys share one compiled engine. The exclusion
 * file's path is left out on purpose: equal rules in two namespaces compile to the same engine.
 */
export function settingsKey(s: EffectiveSettings): string {
  if (s.waf === 'disabled') return 'disabled';
  const h = createHash('sha256');
  h.update(JSON.stringify([s.mode, s.paranoiaLevel, s.anomalyThreshold]));
  h.update('\0');
  h.update(s.exclusions?.text ?? '');
  return h.digest('hex').slice(0, 16);
}

/**
 * TX variables the settings pin: CRS v4 reads blocking/detection_paranoia_level, the embedded
 * rules (and CRS v3) read paranoia_level; both read inbound_anomaly_score_threshold.
 */
export function pinnedTxFor(s: EffectiveSettings): Record<string, string> {
  const pinned: Record<string, string> = {};
  if (s.paranoiaLevel !== null) {
    const pl = String(s.paranoiaLevel);
    pinned.blocking_paranoia_level = pl;
    pinned.detection_paranoia_level = pl;
    pinned.paranoia_level = pl;
  }
  if (s.anomalyThreshold !== null) pinned.inbound_anomaly_score_threshold = String(s.anomalyThreshold);
  return pinned;
}

/** Short form for logs. */
export function describeSettings(s: EffectiveSettings): Record<string, unknown> {
  return {
    waf: s.waf,
    mode: s.mode ?? 'ruleset',
    paranoia_level: s.paranoiaLevel ?? 'ruleset',
    anomaly_threshold: s.anomalyThreshold ?? 'ruleset',
    exclusions: s.exclusions?.file ?? null,
  };
}
