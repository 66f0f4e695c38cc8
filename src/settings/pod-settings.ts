// --pod-settings k=v,...: the keys the pod's own annotations set (the injector passes them).
// They win over the namespace's settings.yaml. Keys: waf, mode, paranoia_level, anomaly_threshold,
// staged_mode, staged_paranoia_level, staged_anomaly_threshold, staged_sample_rate.
import { applyValue, SettingsError, type Fail, type SettingsValues, VALUE_KEYS } from './values.js';

const FLAG = '--pod-settings';
const INTEGER_KEYS = new Set(['paranoia_level', 'anomaly_threshold', 'staged_paranoia_level', 'staged_anomaly_threshold']);
const NUMBER_KEYS = new Set(['staged_sample_rate']);

export function parsePodSettings(text: string): SettingsValues {
  const fail: Fail = (key, problem) => {
    throw new SettingsError(`${FLAG}: ${key ? key + ': ' : ''}${problem}`);
  };
  const out: SettingsValues = {};
  const seen = new Set<string>();
  if (text.trim() === '') return out;
  for (const item of text.split(',')) {
    const pair = item.trim();
    const eq = pair.indexOf('=');
    if (eq <= 0) fail('', `expected key=value, got ${JSON.stringify(pair)} (keys: ${VALUE_KEYS.join(', ')})`);
    const key = pair.slice(0, eq).trim();
    const valueText = pair.slice(eq + 1).trim();
    if (seen.has(key)) fail(key, 'given twice');
    seen.add(key);
    // Integers arrive as text on the command line; anything else is not a number.
    const value =
      (INTEGER_KEYS.has(key) && /^[0-9]{1,9}$/.test(valueText)) || (NUMBER_KEYS.has(key) && /^[0-9]{1,3}(?:\.[0-9]{1,9})?$/.test(valueText))
        ? Number(valueText)
        : valueText;
    if (!applyValue(out, key, value, fail)) fail(key, `unknown key (known keys: ${VALUE_KEYS.join(', ')})`);
  }
  return out;
}

/** The k=v,... form of `values` (for logs and the injector's tests). */
export function formatPodSettings(values: SettingsValues): string {
  const parts: string[] = [];
  if (values.waf !== undefined) parts.push(`waf=${values.waf}`);
  if (values.mode !== undefined) parts.push(`mode=${values.mode}`);
  if (values.paranoiaLevel !== undefined) parts.push(`paranoia_level=${values.paranoiaLevel}`);
  if (values.anomalyThreshold !== undefined) parts.push(`anomaly_threshold=${values.anomalyThreshold}`);
  if (values.stagedMode !== undefined) parts.push(`staged_mode=${values.stagedMode}`);
  if (values.stagedParanoiaLevel !== undefined) parts.push(`staged_paranoia_level=${values.stagedParanoiaLevel}`);
  if (values.stagedAnomalyThreshold !== undefined) parts.push(`staged_anomaly_threshold=${values.stagedAnomalyThreshold}`);
  if (values.stagedSampleRate !== undefined) parts.push(`staged_sample_rate=${values.stagedSampleRate}`);
  return parts.join(',');
}
