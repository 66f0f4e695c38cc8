// The settings a namespace (or pod) can set, their validation, and the errors naming file and key.
// Shared by settings.yaml (settings-file.ts) and --pod-settings (pod-settings.ts).
import { describeValue } from '../config/yaml-input.js';

export type WafSwitch = 'enabled' | 'disabled';
export type SettingsMode = 'block' | 'detect';

export const WAF_SWITCHES: readonly WafSwitch[] = ['enabled', 'disabled'];
export const SETTINGS_MODES: readonly SettingsMode[] = ['block', 'detect'];
export const MAX_PARANOIA_LEVEL = 4;
/** Far above any sensible inbound threshold (CRS uses 5..100); keeps the value a small integer. */
export const MAX_ANOMALY_THRESHOLD = 100_000;

/** The overridable settings; absent = not set at this level. */
export interface SettingsValues {
  waf?: WafSwitch;
  mode?: SettingsMode;
  paranoiaLevel?: number;
  anomalyThreshold?: number;
  /** Staged policy (src/settings/staged.ts): evaluated in shadow, never enforced. */
  stagedMode?: SettingsMode;
  stagedParanoiaLevel?: number;
  stagedAnomalyThreshold?: number;
  /** Fraction of requests the staged policy is evaluated on, 0 < r <= 1. */
  stagedSampleRate?: number;
}

/** A settings problem; the message names the file (or flag) and the key. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

export type Fail = (key: string, problem: string) => never;

export const describe = describeValue;

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], key: string, fail: Fail): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(key, `must be one of ${allowed.join(', ')} (got ${describe(value)})`);
  }
  return value as T;
}

export function checkInteger(value: unknown, min: number, max: number, key: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be an integer ${min}..${max} (got ${describe(value)})`);
  }
  return value as number;
}

/** Validates one overridable key (YAML values); returns false when `key` is not one of them. */
export function applyValue(out: SettingsValues, key: string, value: unknown, fail: Fail): boolean {
  switch (key) {
    case 'waf':
      out.waf = checkOneOf(value, WAF_SWITCHES, key, fail);
      return true;
    case 'mode':
      out.mode = checkOneOf(value, SETTINGS_MODES, key, fail);
      return true;
    case 'paranoia_level':
      out.paranoiaLevel = checkInteger(value, 1, MAX_PARANOIA_LEVEL, key, fail);
      return true;
    case 'anomaly_threshold':
      out.anomalyThreshold = checkInteger(value, 1, MAX_ANOMALY_THRESHOLD, key, fail);
      return true;
    case 'staged_mode':
      out.stagedMode = checkOneOf(value, SETTINGS_MODES, key, fail);
      return true;
    case 'staged_paranoia_level':
      out.stagedParanoiaLevel = checkInteger(value, 1, MAX_PARANOIA_LEVEL, key, fail);
      return true;
    case 'staged_anomaly_threshold':
      out.stagedAnomalyThreshold = checkInteger(value, 1, MAX_ANOMALY_THRESHOLD, key, fail);
      return true;
    case 'staged_sample_rate':
      out.stagedSampleRate = checkSampleRate(value, key, fail);
      return true;
    default:
      return false;
  }
}

export function checkSampleRate(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    fail(key, `must be a number greater than 0 and at most 1 (got ${describe(value)})`);
  }
  return value as number;
}

export const VALUE_KEYS = [
  'waf',
  'mode',
  'paranoia_level',
  'anomaly_threshold',
  'staged_mode',
  'staged_paranoia_level',
  'staged_anomaly_threshold',
  'staged_sample_rate',
] as const;
