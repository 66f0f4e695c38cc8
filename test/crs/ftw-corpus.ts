// Loads go-ftw (v2 schema) YAML test files, as CRS v4 ships them in tests/regression/tests.
//
// The YAML is parsed with the failsafe schema (every scalar a string) and the typed fields are
// converted afterwards. That is what go-ftw effectively does: it unmarshals into Go structs, so a
// header value written as `Content-Length: 7` or `Keep-Alive: 300` becomes the string "7"/"300"
// exactly as written (the JSON/core schema would turn `1.0` into "1", `0x10` into "16"...).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';

export interface FtwInput {
  dest_addr?: string;
  port?: number;
  protocol?: string;
  method?: string;
  uri?: string;
  version?: string;
  /** Header map, case kept as written. */
  headers?: Record<string, string>;
  /** v2 ordered headers (sent in this order, repeats allowed). */
  ordered_headers?: Array<{ name: string; value: string }>;
  data?: string;
  encoded_data?: string;
  encoded_request?: string;
  raw_request?: string;
  autocomplete_headers?: boolean;
  stop_magic?: boolean;
  save_cookie?: boolean;
  follow_redirect?: boolean;
  virtual_host_mode?: boolean;
  /** Albedo backend response description (response-phase tests). */
  response?: unknown;
  /** Keys this loader does not know, kept for the report. */
  unknownKeys?: string[];
}

export interface FtwLogOutput {
  expect_ids?: number[];
  no_expect_ids?: number[];
  match_regex?: string;
  no_match_regex?: string;
}

export interface FtwOutput {
  status?: number | number[];
  response_contains?: string;
  log_contains?: string;
  no_log_contains?: string;
  log?: FtwLogOutput;
  expect_error?: boolean;
  retry_once?: boolean;
  isolated?: boolean;
  unknownKeys?: string[];
}

export interface FtwStage {
  /** Path of the YAML file relative to the tests root. */
  file: string;
  /** Rule-file group directory, e.g. REQUEST-920-PROTOCOL-ENFORCEMENT. */
  group: string;
  ruleId: number;
  testId: number;
  /** 0-based index of the stage inside its test. */
  stageIndex: number;
  stageCount: number;
  desc: string;
  input: FtwInput;
  output: FtwOutput;
  /** Which test client's request bytes to reproduce (default go-ftw; "ftw" for CRS 3.3 tests). */
  client?: 'go-ftw' | 'ftw';
}

export interface FtwFileProblem {
  file: string;
  problem: string;
}

export interface LoadedCorpus {
  root: string;
  files: number;
  stages: FtwStage[];
  /** Files that are empty / comment-only or could not be read. */
  problems: FtwFileProblem[];
}

const KNOWN_INPUT_KEYS = new Set([
  'dest_addr', 'port', 'protocol', 'method', 'uri', 'version', 'headers', 'ordered_headers', 'data',
  'encoded_data', 'encoded_request', 'raw_request', 'autocomplete_headers', 'stop_magic', 'save_cookie',
  'follow_redirect', 'virtual_host_mode', 'response',
]);
const KNOWN_OUTPUT_KEYS = new Set([
  'status', 'response_contains', 'log_contains', 'no_log_contains', 'log', 'expect_error', 'retry_once', 'isolated',
]);

type Plain = string | null | Plain[] | { [k: string]: Plain };

function asRecord(v: Plain | undefined): Record<string, Plain> | null {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : null;
}

function asString(v: Plain | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new Error(`expected a scalar, got ${JSON.stringify(v).slice(0, 60)}`);
}

function asInt(v: Plain | undefined, what: string): number | undefined {
  const s = asString(v);
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  if (!Number.isInteger(n)) throw new Error(`${what}: not an integer: ${JSON.stringify(s)}`);
  return n;
}

function asBool(v: Plain | undefined, what: string): boolean | undefined {
  const s = asString(v);
  if (s === undefined) return undefined;
  const t = s.trim().toLowerCase();
  if (t === 'true' || t === 'yes' || t === 'on') return true;
  if (t === 'false' || t === 'no' || t === 'off') return false;
  throw new Error(`${what}: not a boolean: ${JSON.stringify(s)}`);
}

function asIntList(v: Plain | undefined, what: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const items = Array.isArray(v) ? v : [v];
  return items.map((x) => asInt(x, what)!);
}

function parseInput(raw: Record<string, Plain>): FtwInput {
  const input: FtwInput = {};
  const unknown: string[] = [];
  for (const key of Object.keys(raw)) if (!KNOWN_INPUT_KEYS.has(key)) unknown.push(key);
  if (unknown.length > 0) input.unknownKeys = unknown;
  const str = (k: string) => asString(raw[k]);
  const set = <K extends keyof FtwInput>(k: K, v: FtwInput[K] | undefined) => {
    if (v !== undefined) input[k] = v;
  };
  set('dest_addr', str('dest_addr'));
  set('port', asInt(raw['port'], 'port'));
  set('protocol', str('protocol'));
  set('method', str('method'));
  set('uri', str('uri'));
  set('version', str('version'));
  const headers = asRecord(raw['headers']);
  if (headers) {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) h[k] = asString(v) ?? '';
    input.headers = h;
  }
  const ordered = raw['ordered_headers'];
  if (Array.isArray(ordered)) {
    input.ordered_headers = ordered.map((e) => {
      const r = asRecord(e);
      if (!r) throw new Error('ordered_headers entry is not a map');
      return { name: asString(r['name']) ?? '', value: asString(r['value']) ?? '' };
    });
  }
  set('data', str('data'));
  set('encoded_data', str('encoded_data'));
  set('encoded_request', str('encoded_request'));
  set('raw_request', str('raw_request'));
  set('autocomplete_headers', asBool(raw['autocomplete_headers'], 'autocomplete_headers'));
  set('stop_magic', asBool(raw['stop_magic'], 'stop_magic'));
  set('save_cookie', asBool(raw['save_cookie'], 'save_cookie'));
  set('follow_redirect', asBool(raw['follow_redirect'], 'follow_redirect'));
  set('virtual_host_mode', asBool(raw['virtual_host_mode'], 'virtual_host_mode'));
  if (raw['response'] !== undefined && raw['response'] !== null) input.response = raw['response'];
  return input;
}

function parseOutput(raw: Record<string, Plain>): FtwOutput {
  const out: FtwOutput = {};
  const unknown: string[] = [];
  for (const key of Object.keys(raw)) if (!KNOWN_OUTPUT_KEYS.has(key)) unknown.push(key);
  if (unknown.length > 0) out.unknownKeys = unknown;
  const status = raw['status'];
  if (Array.isArray(status)) out.status = status.map((s) => asInt(s, 'status')!);
  else if (status !== undefined && status !== null) out.status = asInt(status, 'status')!;
  for (const k of ['response_contains', 'log_contains', 'no_log_contains'] as const) {
    const v = asString(raw[k]);
    if (v !== undefined) out[k] = v;
  }
  const eb = asBool(raw['expect_error'], 'expect_error');
  if (eb !== undefined) out.expect_error = eb;
  const ro = asBool(raw['retry_once'], 'retry_once');
  if (ro !== undefined) out.retry_once = ro;
  const iso = asBool(raw['isolated'], 'isolated');
  if (iso !== undefined) out.isolated = iso;
  const log = asRecord(raw['log']);
  if (log) {
    const l: FtwLogOutput = {};
    const e = asIntList(log['expect_ids'], 'expect_ids');
    if (e) l.expect_ids = e;
    const n = asIntList(log['no_expect_ids'], 'no_expect_ids');
    if (n) l.no_expect_ids = n;
    const mr = asString(log['match_regex']);
    if (mr !== undefined) l.match_regex = mr;
    const nmr = asString(log['no_match_regex']);
    if (nmr !== undefined) l.no_match_regex = nmr;
    out.log = l;
  }
  return out;
}

/** Parses one go-ftw YAML document. Returns [] for an empty/comment-only document. */
export function parseFtwYaml(text: string, file = '<inline>', group = ''): FtwStage[] {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
  if (doc.errors.length > 0) throw new Error(`${file}: YAML error: ${doc.errors[0]!.message}`);
  const root = doc.toJS({ maxAliasCount: 1000 }) as Plain;
  if (root === null || root === undefined) return [];
  const top = asRecord(root);
  if (!top) throw new Error(`${file}: top level is not a map`);
  const ruleId = asInt(top['rule_id'], 'rule_id');
  if (ruleId === undefined) throw new Error(`${file}: no rule_id`);
  const tests = top['tests'];
  if (!Array.isArray(tests)) throw new Error(`${file}: no tests list`);
  const stages: FtwStage[] = [];
  tests.forEach((t, position) => {
    const test = asRecord(t);
    if (!test) throw new Error(`${file}: test #${position + 1} is not a map`);
    // test_id is optional in the v2 schema: inferred from the position (1-based).
    const testId = asInt(test['test_id'], 'test_id') ?? position + 1;
    const desc = asString(test['desc']) ?? asString(test['test_title']) ?? '';
    const rawStages = test['stages'];
    if (!Array.isArray(rawStages)) throw new Error(`${file}: test ${testId} has no stages`);
    rawStages.forEach((s, stageIndex) => {
      let st = asRecord(s);
      // v1 format wrapped each stage in `stage:`.
      if (st && asRecord(st['stage']) && !st['input']) st = asRecord(st['stage']);
      if (!st) throw new Error(`${file}: test ${testId} stage ${stageIndex + 1} is not a map`);
      const input = parseInput(asRecord(st['input']) ?? {});
      const output = parseOutput(asRecord(st['output']) ?? {});
      stages.push({ file, group, ruleId, testId, stageIndex, stageCount: rawStages.length, desc, input, output });
    });
  });
  return stages;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.ya?ml$/i.test(name)) out.push(p);
  }
}

/** Parses one YAML file of a corpus: its stages, and notes about it (empty, disabled tests). */
export type CorpusFileParser = (text: string, file: string, group: string) => { stages: FtwStage[]; notes: string[] };

/** Loads every *.yaml / *.yml under `root` (recursively, sorted) with `parse`. */
export function loadCorpusWith(root: string, parse: CorpusFileParser): LoadedCorpus {
  const paths: string[] = [];
  walk(root, paths);
  const stages: FtwStage[] = [];
  const problems: FtwFileProblem[] = [];
  for (const path of paths) {
    const rel = relative(root, path);
    const group = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '';
    try {
      const parsed = parse(readFileSync(path, 'utf8'), rel, group);
      for (const problem of parsed.notes) problems.push({ file: rel, problem });
      stages.push(...parsed.stages);
    } catch (err) {
      problems.push({ file: rel, problem: err instanceof Error ? err.message : String(err) });
    }
  }
  return { root, files: paths.length, stages, problems };
}

/** Loads a go-ftw (v2) corpus. */
export function loadCorpus(root: string): LoadedCorpus {
  return loadCorpusWith(root, (text, file, group) => {
    const stages = parseFtwYaml(text, file, group);
    return { stages, notes: stages.length === 0 ? ['no tests (empty or comment-only file)'] : [] };
  });
}

/** "920100-4" or "920100-4/2" for multi-stage tests. */
export function stageName(s: Pick<FtwStage, 'ruleId' | 'testId' | 'stageIndex' | 'stageCount'>): string {
  return s.stageCount > 1 ? `${s.ruleId}-${s.testId}/${s.stageIndex + 1}` : `${s.ruleId}-${s.testId}`;
}

/** Rule-file group number from a rule id: 920100 → "920". */
export function ruleGroup(ruleId: number): string {
  return String(ruleId).slice(0, 3);
}
