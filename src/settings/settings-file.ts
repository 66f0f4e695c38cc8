// settings.yaml as the controller renders it into the sidewall-settings ConfigMap:
//
//   version: 1
//   namespace: shop
//   waf: enabled            # enabled | disabled
//   mode: detect            # block | detect
//   paranoia_level: 1       # 1..4
//   anomaly_threshold: 5    # omitted = ruleset default
//   exclusions: true        # exclusions.conf beside this file holds SecLang exclusion rules
//   events_webhook_secret: name   # informational
//   staged_mode: block      # staged policy (evaluated in shadow, never enforced; src/settings/staged.ts)
//   staged_paranoia_level: 2
//   staged_anomaly_threshold: 5
//   staged_exclusions: true # staged-exclusions.conf beside this file replaces exclusions.conf when staged
//   staged_sample_rate: 0.1 # fraction of requests shadowed (default 0.1)
//
// Unknown keys are errors (a typo must not silently weaken protection); so is any version but 1.
import { parseYamlText } from '../config/yaml-input.js';
import { applyValue, describe, SettingsError, type Fail, type SettingsValues, VALUE_KEYS } from './values.js';

export const SETTINGS_VERSION = 1;
const KEYS = ['version', 'namespace', ...VALUE_KEYS, 'exclusions', 'staged_exclusions', 'events_webhook_secret'] as const;
/** Kubernetes namespace names are DNS labels. */
const NAMESPACE_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

export interface NamespaceSettings extends SettingsValues {
  namespace: string | null;
  /** Whether exclusions.conf holds the namespace's exclusion rules. */
  exclusions: boolean;
  /** Whether staged-exclusions.conf holds the staged policy's exclusion rules. */
  stagedExclusions: boolean;
  eventsWebhookSecret: string | null;
}

export function isNamespaceName(name: string): boolean {
  return NAMESPACE_NAME.test(name);
}

/** Validates settings.yaml text; `label` (the file path) prefixes every error. */
export function parseSettingsText(text: string, label: string): NamespaceSettings {
  const fail: Fail = (key, problem) => {
    throw new SettingsError(`settings ${label}: ${key ? key + ': ' : ''}${problem}`);
  };
  const raw = parseYamlText(text, fail);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('', `must be a YAML mapping with version: ${SETTINGS_VERSION} (got ${describe(raw)})`);
  }
  const map = raw as Record<string, unknown>;
  for (const key of Object.keys(map)) {
    if (!(KEYS as readonly string[]).includes(key)) fail(key, `unknown key (known keys: ${KEYS.join(', ')})`);
  }
  if (map.version !== SETTINGS_VERSION) {
    fail('version', map.version === undefined ? `missing (expected ${SETTINGS_VERSION})` : `must be ${SETTINGS_VERSION} (got ${describe(map.version)})`);
  }
  const out: NamespaceSettings = { namespace: null, exclusions: false, stagedExclusions: false, eventsWebhookSecret: null };
  for (const key of VALUE_KEYS) if (map[key] !== undefined) applyValue(out, key, map[key], fail);
  if (map.namespace !== undefined) {
    if (typeof map.namespace !== 'string' || !isNamespaceName(map.namespace)) {
      fail('namespace', `must be a Kubernetes namespace name (got ${describe(map.namespace)})`);
    }
    out.namespace = map.namespace as string;
  }
  if (map.exclusions !== undefined) {
    if (typeof map.exclusions !== 'boolean') fail('exclusions', `must be true or false (got ${describe(map.exclusions)})`);
    out.exclusions = map.exclusions as boolean;
  }
  if (map.staged_exclusions !== undefined) {
    if (typeof map.staged_exclusions !== 'boolean') fail('staged_exclusions', `must be true or false (got ${describe(map.staged_exclusions)})`);
    out.stagedExclusions = map.staged_exclusions as boolean;
  }
  if (map.events_webhook_secret !== undefined && map.events_webhook_secret !== null) {
    if (typeof map.events_webhook_secret !== 'string') {
      fail('events_webhook_secret', `must be a Secret name (got ${describe(map.events_webhook_secret)})`);
    }
    out.eventsWebhookSecret = map.events_webhook_secret as string;
  }
  return out;
}
