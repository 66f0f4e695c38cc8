// Sidewall configuration: an optional YAML file (--config) with CLI flags overriding it.
// Validation is hand-written so every error names the key (or flag) and what is wrong, e.g.
//   config /etc/sidewall.yaml: mode: must be one of block, detect, off (got "blok")
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EngineMode } from '../engine/api.js';
import { buildEventsConfig, EventsConfigError, parseEventsSection, type EventsConfig, type EventsFileSettings } from '../events/config.js';
import { DEFAULT_RULES_FILE } from './paths.js';
import { describeValue, parseYamlText } from './yaml-input.js';
import { DEFAULT_ADMISSION, type AdmissionConfig } from '../server/admission.js';
import { parsePodSettings } from '../settings/pod-settings.js';
import { SettingsError, type SettingsValues } from '../settings/values.js';

export const ENGINE_MODES: readonly EngineMode[] = ['block', 'detect', 'off'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_LISTEN = '127.0.0.1:9001';
export const DEFAULT_ADMIN = '127.0.0.1:9002';
export const DEFAULT_DENY_CONTENT_TYPE = 'application/json';
export const DEFAULT_CUSTOM_BODY_CONTENT_TYPE = 'text/plain; charset=utf-8';

export interface DenyResponseConfig {
  /**
   * Body template sent with denied requests; `{{request_id}}` is replaced by the request id.
   * null = the default JSON body `{"error":"request blocked","request_id":"..."}`.
   */
  body: string | null;
  contentType: string;
}

export interface SidewallConfig {
  /** gRPC listen address: host:port, [v6]:port or unix:/path. */
  listen: string;
  /** Admin HTTP listen address (metrics, health): host:port, [v6]:port or unix:/path. */
  admin: string;
  /** Absolute path of the SecLang entry file. */
  rules: string;
  /** Overrides SecRuleEngine when set; null keeps what the rules say. */
  mode: EngineMode | null;
  /** Allow requests when evaluation throws (default false: deny with 503). */
  failOpen: boolean;
  denyResponse: DenyResponseConfig;
  logLevel: LogLevel;
  /** Rule ids whose regex may fall back to V8 RegExp when RE2 rejects it. */
  regexFallbackRuleIds: number[];
  /** engine.acceleration: literal/RE2.Set prefilters (default true; false = every regex runs, same results). */
  acceleration?: boolean;
  /** sidewall_layer: load rules/sidewall-layer with a CRS directory (default true). */
  sidewallLayer?: boolean;
  /** The config file read, null when none. */
  configFile: string | null;
  /** Live settings directory (settings.yaml + exclusions.conf, or one subdirectory per namespace); null = none. */
  settingsDir?: string | null;
  /** --pod-settings: the pod's own overrides, winning over the namespace settings. */
  podSettings?: SettingsValues;
  /** Security events (`events:` section, --events-* flags); absent = none. */
  events?: EventsConfig;
  /** Deadlines, load shedding and max_check_ms (`overload:` section, `max_check_ms`); absent = defaults. */
  admission?: AdmissionConfig;
  /** `overload.readiness`: /readyz answers 503 "overloaded" while checks are being shed. */
  readyWhenOverloaded?: boolean;
  /** `staged_max_ms` / --staged-max-ms: time budget of one staged (shadow) evaluation; absent = default. */
  stagedMaxMs?: number;
}

/** Values given on the command line; they override the file. Unset = not given. */
export interface ConfigOverrides {
  listen?: string;
  admin?: string;
  rules?: string;
  mode?: string;
  failOpen?: boolean;
  logLevel?: string;
  settingsDir?: string;
  podSettings?: string;
  /** --events-webhook (repeatable). */
  eventsWebhooks?: string[];
  /** --events-webhook-dir (repeatable). */
  eventsWebhookDirs?: string[];
  eventsSecret?: string;
  eventsSpool?: string;
  /** --max-check-ms */
  maxCheckMs?: string;
  /** --overload on|off */
  overload?: string;
  /** --staged-max-ms */
  stagedMaxMs?: string;
}

/** A configuration problem; the message is one line and names the key or flag. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const TOP_LEVEL_KEYS = [
  'listen',
  'admin',
  'rules',
  'mode',
  'fail_open',
  'deny_response',
  'log_level',
  'regex_fallback_rule_ids',
  'settings_dir',
  'events',
  'engine',
  'max_check_ms',
  'overload',
  'sidewall_layer',
  'staged_max_ms',
] as const;
const OVERLOAD_KEYS = ['enabled', 'max_queue', 'queue_target_ms', 'max_queue_wait_ms', 'readiness'] as const;
const DENY_RESPONSE_KEYS = ['body', 'content_type'] as const;

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * Parses a listen address. Accepts `host:port`, `[ipv6]:port` and `unix:/path`
 * (also `unix:relative/path` and `unix:///abs`). Returns an error text instead of throwing.
 */
export function parseListenAddress(text: string): ListenAddress | string {
  if (text.startsWith('unix:')) {
    let path = text.slice(5);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') return 'unix socket path is empty';
    return { kind: 'unix', path };
  }
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return 'must be host:port, [ipv6]:port or unix:/path';
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[')) {
    if (!host.endsWith(']') || host.length < 3) return 'bad IPv6 host, expected [address]:port';
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    return 'IPv6 hosts must be in brackets, e.g. [::1]:9001';
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return `port must be a number (got "${portText}")`;
  const port = Number(portText);
  if (port > 65535) return `port must be 0..65535 (got ${port})`;
  if (/\s/.test(host)) return 'host contains whitespace';
  return { kind: 'tcp', host, port };
}

const describe = describeValue;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validation context: how errors are prefixed ("config FILE: key: ..." or "--flag: ..."). */
type Fail = (key: string, problem: string) => never;

function checkString(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string') fail(key, `must be a string (got ${describe(value)})`);
  return value as string;
}

function checkAddress(value: unknown, key: string, fail: Fail): string {
  const text = checkString(value, key, fail);
  const parsed = parseListenAddress(text);
  if (typeof parsed === 'string') fail(key, `${parsed} (got ${JSON.stringify(text)})`);
  return text;
}

function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], key: string, fail: Fail): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(key, `must be one of ${allowed.join(', ')} (got ${describe(value)})`);
  }
  return value as T;
}

/** What the config file may set, already validated. Absent keys are undefined. */
interface FileSettings {
  listen?: string;
  admin?: string;
  rules?: string;
  mode?: EngineMode;
  failOpen?: boolean;
  denyBody?: string;
  denyContentType?: string;
  logLevel?: LogLevel;
  regexFallbackRuleIds?: number[];
  settingsDir?: string;
  events?: EventsFileSettings;
  acceleration?: boolean;
  sidewallLayer?: boolean;
  admission?: Partial<AdmissionConfig>;
  readiness?: boolean;
  stagedMaxMs?: number;
}

function checkNonNegativeInt(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(key, `must be a whole number >= 0 (got ${describe(value)})`);
  }
  return value as number;
}

function checkBool(value: unknown, key: string, fail: Fail): boolean {
  if (typeof value !== 'boolean') fail(key, `must be true or false (got ${describe(value)})`);
  return value as boolean;
}

function parseOverloadSection(raw: unknown, out: FileSettings, fail: Fail): void {
  if (!isMapping(raw)) return fail('overload', `must be a mapping (known keys: ${OVERLOAD_KEYS.join(', ')}) (got ${describe(raw)})`);
  for (const key of Object.keys(raw)) {
    if (!(OVERLOAD_KEYS as readonly string[]).includes(key)) fail(`overload.${key}`, `unknown key (known keys: ${OVERLOAD_KEYS.join(', ')})`);
  }
  const a = (out.admission ??= {});
  if (raw.enabled !== undefined) a.enabled = checkBool(raw.enabled, 'overload.enabled', fail);
  if (raw.max_queue !== undefined) {
    a.maxQueue = checkNonNegativeInt(raw.max_queue, 'overload.max_queue', fail);
    if (a.maxQueue === 0) fail('overload.max_queue', 'must be at least 1 (use enabled: false to evaluate without a queue)');
  }
  if (raw.queue_target_ms !== undefined) a.queueTargetMs = checkNonNegativeInt(raw.queue_target_ms, 'overload.queue_target_ms', fail);
  if (raw.max_queue_wait_ms !== undefined) a.maxQueueWaitMs = checkNonNegativeInt(raw.max_queue_wait_ms, 'overload.max_queue_wait_ms', fail);
  if (raw.readiness !== undefined) out.readiness = checkBool(raw.readiness, 'overload.readiness', fail);
}

/**
 * Validates the text of a YAML config file. `label` names the file in errors; relative `rules`
 * paths are resolved against `baseDir` (the file's directory).
 */
export function parseConfigText(text: string, label: string, baseDir: string): FileSettings {
  const fail: Fail = (key, problem) => {
    throw new ConfigError(`config ${label}: ${key ? key + ': ' : ''}${problem}`);
  };
  const raw = parseYamlText(text, fail);
  if (raw === null || raw === undefined) return {};
  if (!isMapping(raw)) return fail('', `must be a YAML mapping of settings (got ${describe(raw)})`);

  const out: FileSettings = {};
  for (const key of Object.keys(raw)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      fail(key, `unknown key (known keys: ${TOP_LEVEL_KEYS.join(', ')})`);
    }
  }
  if (raw.listen !== undefined) out.listen = checkAddress(raw.listen, 'listen', fail);
  if (raw.admin !== undefined) out.admin = checkAddress(raw.admin, 'admin', fail);
  if (raw.rules !== undefined) {
    const rules = checkString(raw.rules, 'rules', fail);
    if (rules === '') fail('rules', 'must not be empty');
    out.rules = resolve(baseDir, rules);
  }
  if (raw.mode !== undefined) out.mode = checkOneOf(raw.mode, ENGINE_MODES, 'mode', fail);
  if (raw.fail_open !== undefined) {
    if (typeof raw.fail_open !== 'boolean') fail('fail_open', `must be true or false (got ${describe(raw.fail_open)})`);
    out.failOpen = raw.fail_open as boolean;
  }
  if (raw.deny_response !== undefined) {
    const dr = raw.deny_response;
    if (!isMapping(dr)) fail('deny_response', `must be a mapping with body and/or content_type (got ${describe(dr)})`);
    const deny = dr as Record<string, unknown>;
    for (const key of Object.keys(deny)) {
      if (!(DENY_RESPONSE_KEYS as readonly string[]).includes(key)) {
        fail(`deny_response.${key}`, `unknown key (known keys: ${DENY_RESPONSE_KEYS.join(', ')})`);
      }
    }
    if (deny.body !== undefined) out.denyBody = checkString(deny.body, 'deny_response.body', fail);
    if (deny.content_type !== undefined) {
      const ct = checkString(deny.content_type, 'deny_response.content_type', fail);
      if (ct === '' || /[\r\n]/.test(ct)) fail('deny_response.content_type', `must be a non-empty single-line header value (got ${describe(ct)})`);
      out.denyContentType = ct;
    }
  }
  if (raw.log_level !== undefined) out.logLevel = checkOneOf(raw.log_level, LOG_LEVELS, 'log_level', fail);
  if (raw.regex_fallback_rule_ids !== undefined) {
    const ids = raw.regex_fallback_rule_ids;
    if (!Array.isArray(ids)) fail('regex_fallback_rule_ids', `must be a list of rule ids (got ${describe(ids)})`);
    out.regexFallbackRuleIds = (ids as unknown[]).map((id, i) => {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
        fail(`regex_fallback_rule_ids[${i}]`, `must be a positive integer rule id (got ${describe(id)})`);
      }
      return id as number;
    });
  }
  if (raw.engine !== undefined) {
    const engine = raw.engine;
    if (!isMapping(engine)) fail('engine', `must be a mapping (got ${describe(engine)})`);
    for (const key of Object.keys(engine as object)) if (key !== 'acceleration') fail(`engine.${key}`, 'unknown key (known keys: acceleration)');
    const acc = (engine as Record<string, unknown>).acceleration;
    if (acc !== undefined && typeof acc !== 'boolean') fail('engine.acceleration', `must be true or false (got ${describe(acc)})`);
    if (acc !== undefined) out.acceleration = acc as boolean;
  }
  if (raw.sidewall_layer !== undefined) {
    if (typeof raw.sidewall_layer !== 'boolean') fail('sidewall_layer', `must be true or false (got ${describe(raw.sidewall_layer)})`);
    out.sidewallLayer = raw.sidewall_layer as boolean;
  }
  if (raw.settings_dir !== undefined) {
    const dir = checkString(raw.settings_dir, 'settings_dir', fail);
    if (dir === '') fail('settings_dir', 'must not be empty');
    out.settingsDir = resolve(baseDir, dir);
  }
  if (raw.events !== undefined) out.events = parseEventsSection(raw.events, fail, baseDir);
  if (raw.max_check_ms !== undefined) (out.admission ??= {}).maxCheckMs = checkNonNegativeInt(raw.max_check_ms, 'max_check_ms', fail);
  if (raw.overload !== undefined) parseOverloadSection(raw.overload, out, fail);
  if (raw.staged_max_ms !== undefined) {
    out.stagedMaxMs = checkNonNegativeInt(raw.staged_max_ms, 'staged_max_ms', fail);
    if (out.stagedMaxMs < 1) fail('staged_max_ms', 'must be at least 1 (a staged evaluation is always bounded)');
  }
  return out;
}

export interface LoadConfigOptions {
  /** Path of the YAML file (--config); relative to cwd. */
  file?: string;
  overrides?: ConfigOverrides;
  /** Base for relative paths given on the command line (default process.cwd()). */
  cwd?: string;
}

/** Reads and validates the config file (if any), then applies command-line overrides. */
export function loadConfig(options: LoadConfigOptions = {}): SidewallConfig {
  const cwd = options.cwd ?? process.cwd();
  let settings: FileSettings = {};
  let configFile: string | null = null;
  if (options.file !== undefined) {
    configFile = resolve(cwd, options.file);
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
      throw new ConfigError(`config ${options.file}: cannot read: ${why}`);
    }
    settings = parseConfigText(text, options.file, dirname(configFile));
  }

  const o = options.overrides ?? {};
  const flagFail: Fail = (key, problem) => {
    throw new ConfigError(`${key}: ${problem}`);
  };
  if (o.listen !== undefined) settings.listen = checkAddress(o.listen, '--listen', flagFail);
  if (o.admin !== undefined) settings.admin = checkAddress(o.admin, '--admin', flagFail);
  if (o.rules !== undefined) {
    if (o.rules === '') flagFail('--rules', 'must not be empty');
    settings.rules = resolve(cwd, o.rules);
  }
  if (o.mode !== undefined) settings.mode = checkOneOf(o.mode, ENGINE_MODES, '--mode', flagFail);
  if (o.failOpen !== undefined) settings.failOpen = o.failOpen;
  if (o.logLevel !== undefined) settings.logLevel = checkOneOf(o.logLevel, LOG_LEVELS, '--log-level', flagFail);
  if (o.settingsDir !== undefined) {
    if (o.settingsDir === '') flagFail('--settings-dir', 'must not be empty');
    settings.settingsDir = resolve(cwd, o.settingsDir);
  }
  if (o.maxCheckMs !== undefined) {
    if (!/^[0-9]{1,9}$/.test(o.maxCheckMs)) flagFail('--max-check-ms', `must be a whole number of milliseconds >= 0 (got ${JSON.stringify(o.maxCheckMs)})`);
    (settings.admission ??= {}).maxCheckMs = Number(o.maxCheckMs);
  }
  if (o.overload !== undefined) (settings.admission ??= {}).enabled = checkOneOf(o.overload, ['on', 'off'], '--overload', flagFail) === 'on';
  if (o.stagedMaxMs !== undefined) {
    if (!/^[0-9]{1,7}$/.test(o.stagedMaxMs) || Number(o.stagedMaxMs) < 1) flagFail('--staged-max-ms', `must be a whole number of milliseconds >= 1 (got ${JSON.stringify(o.stagedMaxMs)})`);
    settings.stagedMaxMs = Number(o.stagedMaxMs);
  }
  let podSettings: SettingsValues = {};
  if (o.podSettings !== undefined) {
    try {
      podSettings = parsePodSettings(o.podSettings);
    } catch (err) {
      if (err instanceof SettingsError) throw new ConfigError(err.message);
      throw err;
    }
  }

  const listen = settings.listen ?? DEFAULT_LISTEN;
  const admin = settings.admin ?? DEFAULT_ADMIN;
  if (listen === admin && !/:0$/.test(listen)) {
    throw new ConfigError(`admin: must differ from listen (both are ${JSON.stringify(listen)})`);
  }
  const denyBody = settings.denyBody ?? null;
  return {
    listen,
    admin,
    rules: settings.rules ?? DEFAULT_RULES_FILE,
    mode: settings.mode ?? null,
    failOpen: settings.failOpen ?? false,
    denyResponse: {
      body: denyBody,
      contentType:
        settings.denyContentType ?? (denyBody === null ? DEFAULT_DENY_CONTENT_TYPE : DEFAULT_CUSTOM_BODY_CONTENT_TYPE),
    },
    logLevel: settings.logLevel ?? 'info',
    regexFallbackRuleIds: settings.regexFallbackRuleIds ?? [],
    acceleration: settings.acceleration ?? true,
    sidewallLayer: settings.sidewallLayer ?? true,
    configFile,
    settingsDir: settings.settingsDir ?? null,
    podSettings,
    events: eventsConfig(settings.events, o, cwd),
    admission: { ...DEFAULT_ADMISSION, ...settings.admission },
    readyWhenOverloaded: settings.readiness ?? false,
    ...(settings.stagedMaxMs !== undefined ? { stagedMaxMs: settings.stagedMaxMs } : {}),
  };
}

function eventsConfig(file: EventsFileSettings | undefined, o: ConfigOverrides, cwd: string): EventsConfig {
  try {
    return buildEventsConfig(file, { webhooks: o.eventsWebhooks, webhookDirs: o.eventsWebhookDirs, secret: o.eventsSecret, spool: o.eventsSpool }, cwd);
  } catch (err) {
    if (err instanceof EventsConfigError) throw new ConfigError(err.message);
    throw err;
  }
}
