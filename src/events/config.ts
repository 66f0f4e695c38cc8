// The `events:` config section and the --events-* flags, validated by hand like the rest of
// the config: every error names the key (events.webhooks[1].url) or the flag.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describeValue } from '../config/yaml-input.js';
import { BODY_FORMATS, type BodyFormat } from './body-format.js';
import { JIRA_DEFAULT_ISSUE_TYPE, type JiraOptions } from './formats/jira.js';
import { basicUsernameProblem, bearerTokenProblem, passwordProblem, WebhookAuth, WEBHOOK_AUTH_TYPES } from './webhook-auth.js';
import type { DropPolicy } from './queue.js';
import { severityLevel, SEVERITY_NAMES } from './schema.js';
import type { FsyncPolicy } from './spool.js';

export interface SpoolConfig {
  /** Parent directory; each webhook spools in DIR/<webhook name>. */
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  onFull: DropPolicy;
}

export interface WebhookFilter {
  /** Events whose severity number is <= this pass (0 emergency .. 7 debug); null = no filter. */
  minSeverity: number | null;
  verdicts: Array<'blocked' | 'detected'> | null;
  /** Destination (protected workload) namespaces; null = any. */
  namespaces: string[] | null;
}

export interface WebhookConfig {
  name: string;
  url: string;
  /** HMAC signing secret; null when the webhook authenticates with `auth` instead. */
  secret: string | null;
  /** HTTP authentication (basic / bearer) of the deliveries. */
  auth?: WebhookAuth;
  format: BodyFormat;
  batch: { maxEvents: number; maxBytes: number; maxDelayMs: number };
  retry: { initialMs: number; maxMs: number; maxRetryAfterMs: number };
  timeoutMs: number;
  filter: WebhookFilter;
  /** In-memory queue bound when there is no spool. */
  queue: { maxEvents: number; onFull: DropPolicy };
  spool: SpoolConfig | null;
  /** CloudEvents `source`. */
  source: string;
  /** format jira: project and issue type of the created issues. */
  jira?: JiraOptions;
}

export interface EventsConfig {
  enabled: boolean;
  /** The pino log sink (one line per event on stdout). */
  log: boolean;
  /** Detections waiting to be turned into events (between the Check path and the pipeline). */
  buffer: number;
  aggregation: { windowMs: number; maxKeys: number };
  /** How long shutdown waits for webhook deliveries. */
  flushTimeoutMs: number;
  webhooks: WebhookConfig[];
}

/** Validation failure: `key` relative to the config root (e.g. "events.log"). */
export type EventsFail = (key: string, problem: string) => never;

export const EVENTS_KEYS = ['enabled', 'log', 'buffer', 'aggregation', 'flush_timeout_ms', 'spool', 'webhooks'] as const;
const AGGREGATION_KEYS = ['window_ms', 'max_keys'] as const;
const SPOOL_KEYS = ['dir', 'max_bytes', 'segment_bytes', 'fsync', 'fsync_interval_ms', 'on_full'] as const;
const WEBHOOK_KEYS = ['name', 'url', 'url_file', 'secret', 'secret_file', 'format', 'batch', 'retry', 'timeout_ms', 'filter', 'queue', 'spool', 'source', 'jira', 'auth'] as const;
const AUTH_KEYS = { basic: ['type', 'username', 'password_file'], bearer: ['type', 'token_file'] } as const;
const JIRA_KEYS = ['project_key', 'issue_type', 'labels'] as const;
// Jira's default project key pattern is [A-Z][A-Z]+; admins may allow digits and "_".
const JIRA_PROJECT_KEY = /^[A-Z][A-Z0-9_]{0,254}$/;
const BATCH_KEYS = ['max_events', 'max_bytes', 'max_delay_ms'] as const;
const RETRY_KEYS = ['initial_ms', 'max_ms', 'max_retry_after_ms'] as const;
const FILTER_KEYS = ['min_severity', 'verdicts', 'namespaces'] as const;
const QUEUE_KEYS = ['max_events', 'on_full'] as const;
const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];
const DROP_POLICIES: readonly DropPolicy[] = ['drop_oldest', 'drop_newest'];
const VERDICTS = ['blocked', 'detected'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const EVENTS_DEFAULTS = {
  buffer: 10_000,
  windowMs: 10_000,
  maxKeys: 10_000,
  flushTimeoutMs: 5_000,
  spool: { maxBytes: 64 * 1024 * 1024, segmentBytes: 4 * 1024 * 1024, fsync: 'interval' as FsyncPolicy, fsyncIntervalMs: 1000, onFull: 'drop_oldest' as DropPolicy },
  batch: { maxEvents: 100, maxBytes: 1024 * 1024, maxDelayMs: 1000 },
  retry: { initialMs: 500, maxMs: 60_000, maxRetryAfterMs: 600_000 },
  timeoutMs: 10_000,
  queue: { maxEvents: 10_000, onFull: 'drop_oldest' as DropPolicy },
};

// ---- small validators ----

const describe = describeValue;

function mapping(value: unknown, key: string, known: readonly string[], fail: EventsFail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(key, `must be a mapping (got ${describe(value)})`);
  const m = value as Record<string, unknown>;
  for (const k of Object.keys(m)) if (!known.includes(k)) fail(`${key}.${k}`, `unknown key (known keys: ${known.join(', ')})`);
  return m;
}

function int(value: unknown, key: string, fail: EventsFail, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(key, `must be an integer >= ${min} (got ${describe(value)})`);
  return value as number;
}

function bool(value: unknown, key: string, fail: EventsFail): boolean {
  if (typeof value !== 'boolean') fail(key, `must be true or false (got ${describe(value)})`);
  return value as boolean;
}

function str(value: unknown, key: string, fail: EventsFail): string {
  if (typeof value !== 'string' || value === '') fail(key, `must be a non-empty string (got ${describe(value)})`);
  return value as string;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], key: string, fail: EventsFail): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) fail(key, `must be one of ${allowed.join(', ')} (got ${describe(value)})`);
  return value as T;
}

function checkUrl(text: string, key: string, fail: EventsFail): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(key, `must be an http:// or https:// URL (got ${JSON.stringify(text)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(key, `must be an http:// or https:// URL (got ${JSON.stringify(text)})`);
  return text;
}

/** Reads a mounted-Secret style file: trailing newline/whitespace trimmed, must not be empty. */
function readValueFile(path: string, key: string, fail: EventsFail): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(key, `cannot read ${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  const value = text.trim();
  if (value === '') fail(key, `${path} is empty`);
  return value;
}

// ---- the file section ----

/** What the file's `events:` section sets (webhooks fully validated, spool dir resolved). */
export interface EventsFileSettings {
  enabled?: boolean;
  log?: boolean;
  buffer?: number;
  windowMs?: number;
  maxKeys?: number;
  flushTimeoutMs?: number;
  spool?: Partial<SpoolConfig>;
  webhooks?: WebhookDraft[];
}

/** A webhook before the shared spool settings are applied. */
export interface WebhookDraft extends Omit<WebhookConfig, 'spool' | 'name' | 'secret'> {
  name: string | null;
  secret: string | null;
  /** false = never spool; undefined = use events.spool; object = overrides. */
  spool?: Partial<SpoolConfig> | false;
}

function parseSpool(value: unknown, key: string, fail: EventsFail, baseDir: string): Partial<SpoolConfig> {
  const m = mapping(value, key, SPOOL_KEYS, fail);
  const out: Partial<SpoolConfig> = {};
  if (m.dir !== undefined) out.dir = resolve(baseDir, str(m.dir, `${key}.dir`, fail));
  if (m.max_bytes !== undefined) out.maxBytes = int(m.max_bytes, `${key}.max_bytes`, fail, 4096);
  if (m.segment_bytes !== undefined) out.segmentBytes = int(m.segment_bytes, `${key}.segment_bytes`, fail, 1024);
  if (m.fsync !== undefined) out.fsync = oneOf(m.fsync, FSYNC_POLICIES, `${key}.fsync`, fail);
  if (m.fsync_interval_ms !== undefined) out.fsyncIntervalMs = int(m.fsync_interval_ms, `${key}.fsync_interval_ms`, fail, 1);
  if (m.on_full !== undefined) out.onFull = oneOf(m.on_full, DROP_POLICIES, `${key}.on_full`, fail);
  return out;
}

function parseWebhook(value: unknown, key: string, fail: EventsFail, baseDir: string): WebhookDraft {
  const m = mapping(value, key, WEBHOOK_KEYS, fail);
  const d = EVENTS_DEFAULTS;
  if (m.url !== undefined && m.url_file !== undefined) fail(key, 'set url or url_file, not both');
  if (m.secret !== undefined && m.secret_file !== undefined) fail(key, 'set secret or secret_file, not both');
  let url: string;
  if (m.url_file !== undefined) url = checkUrl(readValueFile(resolve(baseDir, str(m.url_file, `${key}.url_file`, fail)), `${key}.url_file`, fail), `${key}.url_file`, fail);
  else if (m.url !== undefined) url = checkUrl(str(m.url, `${key}.url`, fail), `${key}.url`, fail);
  else return fail(key, 'needs url or url_file');
  let secret: string | null = null;
  if (m.secret_file !== undefined) secret = readValueFile(resolve(baseDir, str(m.secret_file, `${key}.secret_file`, fail)), `${key}.secret_file`, fail);
  else if (m.secret !== undefined) secret = str(m.secret, `${key}.secret`, fail);
  let name: string | null = null;
  if (m.name !== undefined) {
    name = str(m.name, `${key}.name`, fail);
    if (!NAME.test(name)) fail(`${key}.name`, `must be letters, digits, "_", "." or "-" (max 63, got ${JSON.stringify(name)})`);
  }
  const batch = { ...d.batch };
  if (m.batch !== undefined) {
    const b = mapping(m.batch, `${key}.batch`, BATCH_KEYS, fail);
    if (b.max_events !== undefined) batch.maxEvents = int(b.max_events, `${key}.batch.max_events`, fail, 1);
    if (b.max_bytes !== undefined) batch.maxBytes = int(b.max_bytes, `${key}.batch.max_bytes`, fail, 1024);
    if (b.max_delay_ms !== undefined) batch.maxDelayMs = int(b.max_delay_ms, `${key}.batch.max_delay_ms`, fail, 0);
  }
  const retry = { ...d.retry };
  if (m.retry !== undefined) {
    const r = mapping(m.retry, `${key}.retry`, RETRY_KEYS, fail);
    if (r.initial_ms !== undefined) retry.initialMs = int(r.initial_ms, `${key}.retry.initial_ms`, fail, 1);
    if (r.max_ms !== undefined) retry.maxMs = int(r.max_ms, `${key}.retry.max_ms`, fail, 1);
    if (r.max_retry_after_ms !== undefined) retry.maxRetryAfterMs = int(r.max_retry_after_ms, `${key}.retry.max_retry_after_ms`, fail, 0);
    if (retry.maxMs < retry.initialMs) fail(`${key}.retry.max_ms`, `must be >= initial_ms (${retry.initialMs})`);
  }
  const filter: WebhookFilter = { minSeverity: null, verdicts: null, namespaces: null };
  if (m.filter !== undefined) {
    const f = mapping(m.filter, `${key}.filter`, FILTER_KEYS, fail);
    if (f.min_severity !== undefined) {
      const level = typeof f.min_severity === 'number' ? f.min_severity : typeof f.min_severity === 'string' ? severityLevel(f.min_severity) : -1;
      if (!Number.isInteger(level) || level < 0 || level > 7) {
        fail(`${key}.filter.min_severity`, `must be one of ${SEVERITY_NAMES.join(', ')} or 0..7 (got ${describe(f.min_severity)})`);
      }
      filter.minSeverity = level;
    }
    if (f.verdicts !== undefined) {
      if (!Array.isArray(f.verdicts) || f.verdicts.length === 0) fail(`${key}.filter.verdicts`, `must be a non-empty list of blocked, detected (got ${describe(f.verdicts)})`);
      filter.verdicts = (f.verdicts as unknown[]).map((v, i) => oneOf(v, VERDICTS, `${key}.filter.verdicts[${i}]`, fail));
    }
    if (f.namespaces !== undefined) {
      if (!Array.isArray(f.namespaces) || f.namespaces.length === 0) fail(`${key}.filter.namespaces`, `must be a non-empty list of namespaces (got ${describe(f.namespaces)})`);
      filter.namespaces = (f.namespaces as unknown[]).map((v, i) => str(v, `${key}.filter.namespaces[${i}]`, fail));
    }
  }
  const queue = { ...d.queue };
  if (m.queue !== undefined) {
    const q = mapping(m.queue, `${key}.queue`, QUEUE_KEYS, fail);
    if (q.max_events !== undefined) queue.maxEvents = int(q.max_events, `${key}.queue.max_events`, fail, 1);
    if (q.on_full !== undefined) queue.onFull = oneOf(q.on_full, DROP_POLICIES, `${key}.queue.on_full`, fail);
  }
  const format: BodyFormat = m.format === undefined ? 'json' : oneOf(m.format, BODY_FORMATS, `${key}.format`, fail);
  let jira: JiraOptions | undefined;
  if (m.jira !== undefined) {
    if (format !== 'jira') fail(`${key}.jira`, `only applies to format: jira (format is ${format})`);
    jira = parseJira(m.jira, `${key}.jira`, fail);
  } else if (format === 'jira') fail(`${key}.jira`, 'format jira needs jira.project_key (the project the issues are created in)');
  const auth = m.auth === undefined ? undefined : parseAuth(m.auth, `${key}.auth`, fail, baseDir);
  let spool: Partial<SpoolConfig> | false | undefined;
  if (m.spool === false) spool = false;
  else if (m.spool !== undefined) spool = parseSpool(m.spool, `${key}.spool`, fail, baseDir);
  return {
    name,
    url,
    secret,
    format,
    batch,
    retry,
    timeoutMs: m.timeout_ms === undefined ? d.timeoutMs : int(m.timeout_ms, `${key}.timeout_ms`, fail, 1),
    filter,
    queue,
    spool,
    source: m.source === undefined ? defaultSource() : str(m.source, `${key}.source`, fail),
    ...(jira ? { jira } : {}),
    ...(auth ? { auth } : {}),
  };
}

/** `auth: {type: basic, username, password_file}` or `{type: bearer, token_file}`; secrets from files only. */
function parseAuth(value: unknown, key: string, fail: EventsFail, baseDir: string): WebhookAuth {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(key, `must be a mapping with type basic or bearer (got ${describe(value)})`);
  const raw = value as Record<string, unknown>;
  const type = oneOf(raw.type, WEBHOOK_AUTH_TYPES, `${key}.type`, fail);
  for (const inline of ['password', 'token']) {
    if (raw[inline] !== undefined) fail(`${key}.${inline}`, `secrets are read from files only: use ${inline}_file (a mounted Secret)`);
  }
  const m = mapping(value, key, AUTH_KEYS[type], fail);
  if (type === 'basic') {
    if (m.username === undefined) fail(`${key}.username`, 'is required for basic auth');
    const username = str(m.username, `${key}.username`, fail);
    checkUsername(username, `${key}.username`, fail);
    if (m.password_file === undefined) fail(`${key}.password_file`, 'is required for basic auth (the file holding the password or API token)');
    return basicAuthFromFile(username, resolve(baseDir, str(m.password_file, `${key}.password_file`, fail)), `${key}.password_file`, fail);
  }
  if (m.token_file === undefined) fail(`${key}.token_file`, 'is required for bearer auth (the file holding the token)');
  return bearerAuthFromFile(resolve(baseDir, str(m.token_file, `${key}.token_file`, fail)), `${key}.token_file`, fail);
}

function checkUsername(username: string, where: string, fail: EventsFail): void {
  const problem = basicUsernameProblem(username);
  if (problem) fail(where, problem);
}

/** Basic auth with the password read from `file`; `where` names it in errors. */
function basicAuthFromFile(username: string, file: string, where: string, fail: EventsFail): WebhookAuth {
  const password = readValueFile(file, where, fail);
  const problem = passwordProblem(password);
  if (problem) fail(where, `${file}: the password ${problem}`);
  return WebhookAuth.basic(username, password, file);
}

/** Bearer auth with the token read from `file`; `where` names it in errors. */
function bearerAuthFromFile(file: string, where: string, fail: EventsFail): WebhookAuth {
  const token = readValueFile(file, where, fail);
  const problem = bearerTokenProblem(token);
  if (problem) fail(where, `${file}: the token ${problem}`);
  return WebhookAuth.bearer(token, file);
}

function checkJiraProjectKey(projectKey: string, where: string, fail: EventsFail): void {
  if (!JIRA_PROJECT_KEY.test(projectKey)) fail(where, `must be a Jira project key: upper-case letters, digits or "_", starting with a letter (got ${JSON.stringify(projectKey)})`);
}

/** --events-webhook-dir: DIR/token (bearer) or DIR/username + DIR/password (basic), both optional. */
function authFromDir(dir: string, where: string, fail: EventsFail): WebhookAuth | undefined {
  const has = (f: string) => existsSync(join(dir, f));
  if (has('token') && (has('password') || has('username'))) fail(where, 'has both token (bearer) and username/password (basic): keep one');
  if (has('token')) return bearerAuthFromFile(join(dir, 'token'), `${where}: token`, fail);
  if (has('password') || has('username')) {
    const username = readValueFile(join(dir, 'username'), `${where}: username`, fail);
    checkUsername(username, `${where}: username`, fail);
    return basicAuthFromFile(username, join(dir, 'password'), `${where}: password`, fail);
  }
  return undefined;
}

function parseJira(value: unknown, key: string, fail: EventsFail): JiraOptions {
  const j = mapping(value, key, JIRA_KEYS, fail);
  if (j.project_key === undefined) fail(`${key}.project_key`, 'is required (the key of the project the issues are created in, e.g. SEC)');
  const projectKey = str(j.project_key, `${key}.project_key`, fail);
  checkJiraProjectKey(projectKey, `${key}.project_key`, fail);
  const issueType = j.issue_type === undefined ? JIRA_DEFAULT_ISSUE_TYPE : str(j.issue_type, `${key}.issue_type`, fail);
  let labels: string[] = [];
  if (j.labels !== undefined) {
    if (!Array.isArray(j.labels)) fail(`${key}.labels`, `must be a list of labels (got ${describe(j.labels)})`);
    labels = (j.labels as unknown[]).map((v, i) => {
      const l = str(v, `${key}.labels[${i}]`, fail);
      if (/\s/.test(l)) fail(`${key}.labels[${i}]`, `Jira labels cannot contain spaces (got ${JSON.stringify(l)})`);
      return l;
    });
  }
  return { projectKey, issueType, labels };
}

/** Validates the `events:` section of the config file. */
export function parseEventsSection(value: unknown, fail: EventsFail, baseDir: string): EventsFileSettings {
  const m = mapping(value, 'events', EVENTS_KEYS, fail);
  const out: EventsFileSettings = {};
  if (m.enabled !== undefined) out.enabled = bool(m.enabled, 'events.enabled', fail);
  if (m.log !== undefined) out.log = bool(m.log, 'events.log', fail);
  if (m.buffer !== undefined) out.buffer = int(m.buffer, 'events.buffer', fail, 1);
  if (m.flush_timeout_ms !== undefined) out.flushTimeoutMs = int(m.flush_timeout_ms, 'events.flush_timeout_ms', fail, 0);
  if (m.aggregation !== undefined) {
    const a = mapping(m.aggregation, 'events.aggregation', AGGREGATION_KEYS, fail);
    if (a.window_ms !== undefined) out.windowMs = int(a.window_ms, 'events.aggregation.window_ms', fail, 0);
    if (a.max_keys !== undefined) out.maxKeys = int(a.max_keys, 'events.aggregation.max_keys', fail, 1);
  }
  if (m.spool !== undefined) out.spool = parseSpool(m.spool, 'events.spool', fail, baseDir);
  if (m.webhooks !== undefined) {
    if (!Array.isArray(m.webhooks)) fail('events.webhooks', `must be a list of webhooks (got ${describe(m.webhooks)})`);
    out.webhooks = (m.webhooks as unknown[]).map((w, i) => parseWebhook(w, `events.webhooks[${i}]`, fail, baseDir));
  }
  return out;
}

// ---- flags and the final config ----

export interface EventsFlags {
  /** --events-webhook URL (repeatable). */
  webhooks?: string[];
  /**
   * --events-webhook-dir DIR (repeatable): DIR/url, DIR/secret, optional DIR/format; DIR/token or
   * DIR/username + DIR/password (auth, then DIR/secret is optional); DIR/jira_project_key and
   * optional DIR/jira_issue_type for format jira.
   */
  webhookDirs?: string[];
  /** --events-secret: signing secret of flag webhooks and of file webhooks without one. */
  secret?: string;
  /** --events-spool DIR: spool parent directory (overrides events.spool.dir). */
  spool?: string;
}

function defaultSource(): string {
  return `/sidewall/${hostname()}`;
}

function draftFromDir(dir: string, flag: string, fail: EventsFail): WebhookDraft {
  try {
    if (!statSync(dir).isDirectory()) fail(flag, `${dir} is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') fail(flag, `${dir}: directory not found`);
    if ((err as NodeJS.ErrnoException).code) fail(flag, `${dir}: ${(err as Error).message}`);
    throw err;
  }
  const url = checkUrl(readValueFile(join(dir, 'url'), `${flag} ${dir}: url`, fail), `${flag} ${dir}: url`, fail);
  const auth = authFromDir(dir, `${flag} ${dir}`, fail);
  // With auth the HMAC secret is optional; without it DIR/secret is required.
  const secret = auth && !existsSync(join(dir, 'secret')) ? null : readValueFile(join(dir, 'secret'), `${flag} ${dir}: secret`, fail);
  let format: BodyFormat = 'json';
  let formatText: string | null = null;
  try {
    formatText = readFileSync(join(dir, 'format'), 'utf8').trim();
  } catch {
    // optional
  }
  if (formatText !== null && formatText !== '') format = oneOf(formatText, BODY_FORMATS, `${flag} ${dir}: format`, fail);
  const draft = flagDraft(url, secret, format, basename(dir));
  if (format === 'jira') {
    // A mounted Secret carries the Jira keys as files too: DIR/jira_project_key, optional DIR/jira_issue_type.
    const where = `${flag} ${dir}: jira_project_key`;
    if (!existsSync(join(dir, 'jira_project_key'))) fail(where, 'format jira needs DIR/jira_project_key (the project the issues are created in)');
    const projectKey = readValueFile(join(dir, 'jira_project_key'), where, fail);
    checkJiraProjectKey(projectKey, where, fail);
    const issueType = existsSync(join(dir, 'jira_issue_type')) ? readValueFile(join(dir, 'jira_issue_type'), `${flag} ${dir}: jira_issue_type`, fail) : JIRA_DEFAULT_ISSUE_TYPE;
    draft.jira = { projectKey, issueType, labels: [] };
  }
  return auth ? { ...draft, auth } : draft;
}

function flagDraft(url: string, secret: string | null, format: BodyFormat, name: string | null): WebhookDraft {
  const d = EVENTS_DEFAULTS;
  return {
    name: name !== null && NAME.test(name) ? name : null,
    url,
    secret,
    format,
    batch: { ...d.batch },
    retry: { ...d.retry },
    timeoutMs: d.timeoutMs,
    filter: { minSeverity: null, verdicts: null, namespaces: null },
    queue: { ...d.queue },
    source: defaultSource(),
  };
}

/** A stable name from the URL host (spool directories and metric labels depend on it). */
function nameFromUrl(url: string): string {
  const u = new URL(url);
  const base = (u.hostname + (u.port ? `-${u.port}` : '')).replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (base || 'webhook').slice(0, 56);
}

/** File settings + flags → the events config. `cwd` resolves flag paths. */
export function buildEventsConfig(file: EventsFileSettings | undefined, flags: EventsFlags, cwd: string): EventsConfig {
  const flagFail: EventsFail = (key, problem) => {
    throw new EventsConfigError(`${key}: ${problem}`);
  };
  const f = file ?? {};
  const d = EVENTS_DEFAULTS;
  const drafts: Array<{ draft: WebhookDraft; where: string }> = (f.webhooks ?? []).map((draft, i) => ({ draft, where: `events.webhooks[${i}]` }));
  for (const url of flags.webhooks ?? []) {
    drafts.push({ draft: flagDraft(checkUrl(url, '--events-webhook', flagFail), null, 'json', null), where: `--events-webhook ${url}` });
  }
  for (const dir of flags.webhookDirs ?? []) {
    drafts.push({ draft: draftFromDir(resolve(cwd, dir), '--events-webhook-dir', flagFail), where: `--events-webhook-dir ${dir}` });
  }
  if (flags.secret !== undefined && flags.secret === '') flagFail('--events-secret', 'must not be empty');

  const spoolBase: Partial<SpoolConfig> = { ...f.spool };
  if (flags.spool !== undefined) {
    if (flags.spool === '') flagFail('--events-spool', 'must not be empty');
    spoolBase.dir = resolve(cwd, flags.spool);
  }

  const names = new Set<string>();
  const webhooks: WebhookConfig[] = drafts.map(({ draft, where }) => {
    const secret = draft.secret ?? flags.secret ?? null;
    if (secret === null && draft.auth === undefined) {
      throw new EventsConfigError(
        where.startsWith('--')
          ? `${where}: needs a signing secret (--events-secret or DIR/secret) or credentials (DIR/token, or DIR/username and DIR/password)`
          : `${where}: needs secret or secret_file (or --events-secret), or auth (basic or bearer)`,
      );
    }
    let name = draft.name ?? nameFromUrl(draft.url);
    if (names.has(name)) {
      if (draft.name !== null) throw new EventsConfigError(`${where}.name: duplicate webhook name ${JSON.stringify(name)}`);
      let i = 2;
      while (names.has(`${name}-${i}`)) i++;
      name = `${name}-${i}`;
    }
    names.add(name);
    let spool: SpoolConfig | null = null;
    if (draft.spool !== false) {
      const s = { ...spoolBase, ...(draft.spool ?? {}) };
      if (s.dir !== undefined) {
        spool = {
          dir: join(s.dir, name),
          maxBytes: s.maxBytes ?? d.spool.maxBytes,
          segmentBytes: s.segmentBytes ?? Math.min(d.spool.segmentBytes, Math.max(1024, Math.floor((s.maxBytes ?? d.spool.maxBytes) / 8))),
          fsync: s.fsync ?? d.spool.fsync,
          fsyncIntervalMs: s.fsyncIntervalMs ?? d.spool.fsyncIntervalMs,
          onFull: s.onFull ?? d.spool.onFull,
        };
        if (spool.segmentBytes > spool.maxBytes) throw new EventsConfigError(`${where}: spool segment_bytes (${spool.segmentBytes}) must not exceed max_bytes (${spool.maxBytes})`);
      }
    }
    return { ...draft, name, secret, spool };
  });

  return {
    enabled: webhooks.length > 0 && (flags.webhooks?.length || flags.webhookDirs?.length) ? true : (f.enabled ?? true),
    log: f.log ?? true,
    buffer: f.buffer ?? d.buffer,
    aggregation: { windowMs: f.windowMs ?? d.windowMs, maxKeys: f.maxKeys ?? d.maxKeys },
    flushTimeoutMs: f.flushTimeoutMs ?? d.flushTimeoutMs,
    webhooks,
  };
}

/** Thrown by buildEventsConfig; config.ts turns it into its ConfigError. */
export class EventsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventsConfigError';
  }
}
