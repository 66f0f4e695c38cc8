// Staged policies: a namespace (or pod) may carry a second, *staged* set of settings — mode,
// paranoia level, anomaly threshold, exclusions — that the sidecar evaluates in shadow on a sample
// of requests after the real verdict was answered (src/server/shadow.ts). It is never enforced.
//
// The staged policy is "the effective settings as they would be if promoted": every staged key
// replaces the enforced one, every other key is the enforced value. So promoting is one annotation
// change: sidewall.io/staged-paranoia-level: "2" → sidewall.io/paranoia-level: "2" (and
// sidewall.io/staged-exclusions: cm → sidewall.io/exclusions: cm). Staged exclusions replace the
// enforced exclusions (the staged ConfigMap holds the complete set, as it would once promoted).
//
// A staged policy exists when at least one of mode / paranoia level / threshold / exclusions is
// staged; the sample rate alone stages nothing.
import type { EngineMode } from '../engine/api.js';
import { settingsKey, type EffectiveSettings, type ExclusionRules } from './effective.js';
import type { SettingsValues } from './values.js';

/** Fraction of requests shadowed when no staged_sample_rate is set. */
export const DEFAULT_STAGED_SAMPLE_RATE = 0.1;

export interface StagedPolicy {
  /** The settings the staged engine is built with (enforced settings + staged overrides). */
  settings: EffectiveSettings;
  /** 0 < rate <= 1. */
  sampleRate: number;
  /** What was staged (for events and logs): only the keys that differ by being staged. */
  staged: StagedDescription;
}

/** What an operator staged, as events and logs report it. */
export interface StagedDescription {
  mode?: EngineMode;
  paranoia_level?: number;
  anomaly_threshold?: number;
  /** The staged exclusions file (sidecar: .../staged-exclusions.conf). */
  exclusions?: string;
  sample_rate: number;
}

/**
 * The staged policy of one namespace/pod, or null when nothing is staged. `pod` wins over
 * `namespace` key by key, like the enforced settings.
 */
export function resolveStaged(
  enforced: EffectiveSettings,
  namespace: SettingsValues | null,
  pod: SettingsValues,
  stagedExclusions: ExclusionRules | null,
): StagedPolicy | null {
  const pick = <K extends keyof SettingsValues>(key: K): SettingsValues[K] => pod[key] ?? namespace?.[key];
  const mode = pick('stagedMode');
  const paranoia = pick('stagedParanoiaLevel');
  const threshold = pick('stagedAnomalyThreshold');
  const exclusions = stagedExclusions !== null && stagedExclusions.text.trim() !== '' ? stagedExclusions : null;
  if (mode === undefined && paranoia === undefined && threshold === undefined && exclusions === null) return null;
  const sampleRate = pick('stagedSampleRate') ?? DEFAULT_STAGED_SAMPLE_RATE;
  const settings: EffectiveSettings = {
    // Staging on a disabled namespace shows what enabling it would do.
    waf: 'enabled',
    mode: mode ?? enforced.mode,
    paranoiaLevel: paranoia ?? enforced.paranoiaLevel,
    anomalyThreshold: threshold ?? enforced.anomalyThreshold,
    exclusions: exclusions ?? enforced.exclusions,
  };
  const staged: StagedDescription = { sample_rate: sampleRate };
  if (mode !== undefined) staged.mode = mode;
  if (paranoia !== undefined) staged.paranoia_level = paranoia;
  if (threshold !== undefined) staged.anomaly_threshold = threshold;
  if (exclusions !== null) staged.exclusions = exclusions.file;
  return { settings, sampleRate, staged };
}

/** Engine identity of a staged policy (shares the engine cache with enforced settings). */
export function stagedKey(p: StagedPolicy): string {
  return settingsKey(p.settings);
}
