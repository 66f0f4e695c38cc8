// Decides, for one go-ftw stage, whether it is applicable to Sidewall behind Envoy and what the
// pass condition is, and applies test/crs/overrides.yaml.
//
// Pass condition: every id of `expect_ids` is in the response's waf_rule_ids and none of
// `no_expect_ids` is. go-ftw's log regexes are mapped onto rule ids where the text they match
// is observable through rule ids:
//   \[id "NNN"\]                        → rule NNN logged
//   \[id "\d+"\]                        → any rule logged (no_match: no rule at all)
//   Inbound Anomaly Score Exceeded      → 949110 logged
//   Outbound Anomaly Score Exceeded     → 959100 (response phase → not applicable)
//   Multipart parsing error             → 200002 (REQBODY_ERROR rule of the base config)
// A regex alternative we cannot map (e.g. "found within ARGS:x", which checks the logged
// variable name) is reported as unchecked; a stage left with nothing checkable is not applicable.
import { readFileSync, existsSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { FtwOutput, FtwStage } from './ftw-corpus.js';

export interface Expectation {
  expectIds: number[];
  noExpectIds: number[];
  /** Each inner list: at least one of these ids must be logged ('*' = any rule). */
  anyOf: Array<Array<number | '*'>>;
  /** No rule at all may be logged. */
  noRules: boolean;
  /** Assertions that exist in the test but cannot be observed via ext_authz. */
  unchecked: string[];
}

export interface OverrideEntry {
  rule_id: number;
  test_ids: number[];
  reason: string;
  /** Replacement output (go-ftw semantics: replaces the stage output wholesale). */
  output?: FtwOutput;
  /** true → the stage is not applicable, with `reason`. */
  ignore?: boolean;
}

export interface OverridesFile {
  path: string | null;
  entries: OverrideEntry[];
}

/** Rule-id groups whose rules run on the response (phases 3/4) or only log (980). */
export function isResponseRuleId(id: number): boolean {
  const g = Math.floor(id / 1000);
  return (g >= 950 && g <= 959) || g === 980;
}

// Log messages that stand for one rule. "Multipart parsing error" only when the regex asks for no
// particular parser message: which error the body processor reported is not observable via ids.
const MESSAGE_IDS: Array<[RegExp, number]> = [
  [/Inbound Anomaly Score Exceeded/, 949110],
  [/Outbound Anomaly Score Exceeded/, 959100],
  [/^\W*Multipart parsing error\W*$/, 200002],
];

/** Splits a regex at top-level '|'. */
function topLevelAlternatives(re: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cls = false;
  let cur = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\') {
      cur += c + (re[i + 1] ?? '');
      i++;
      continue;
    }
    if (cls) {
      if (c === ']') cls = false;
    } else if (c === '[') cls = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** Ids (or '*' = any rule) one regex alternative stands for; null when not observable via ids. */
function alternativeToIds(alt: string): Array<number | '*'> | null {
  const ids: Array<number | '*'> = [];
  const idLiteral = /\\\[id "(\d+)"\\\]/g;
  let m: RegExpExecArray | null;
  while ((m = idLiteral.exec(alt)) !== null) ids.push(Number(m[1]));
  if (ids.length > 0) return ids;
  if (/\\\[id "\\d\+"\\\]/.test(alt)) return ['*'];
  for (const [pattern, id] of MESSAGE_IDS) if (pattern.test(alt.replace(/\\/g, ''))) return [id];
  return null;
}

/** Ids (or '*' = any rule) a log regex stands for; null when some alternative is not observable. */
export function regexToIds(re: string): Array<number | '*'> | null {
  const ids: Array<number | '*'> = [];
  for (const alt of topLevelAlternatives(re)) {
    const found = alternativeToIds(alt);
    if (found === null) return null;
    ids.push(...found);
  }
  return ids;
}

/** `log_contains: id "942100"` style (v1 tests). */
function containsToIds(text: string): Array<number | '*'> | null {
  const m = /id[\s":]*(\d{6})/.exec(text);
  return m ? [Number(m[1])] : regexToIds(text);
}

export function buildExpectation(output: FtwOutput): Expectation {
  const e: Expectation = { expectIds: [], noExpectIds: [], anyOf: [], noRules: false, unchecked: [] };
  const log = output.log ?? {};
  e.expectIds.push(...(log.expect_ids ?? []));
  e.noExpectIds.push(...(log.no_expect_ids ?? []));
  const positive = (what: string, text: string, ids: Array<number | '*'> | null) => {
    if (ids === null) e.unchecked.push(`${what}: ${text}`);
    else if (ids.length === 1 && ids[0] !== '*') e.expectIds.push(ids[0] as number);
    else e.anyOf.push(ids);
  };
  // "no alternative matches" is a conjunction: each observable alternative is checked on its own,
  // the others are reported as unchecked.
  const negativeRegex = (what: string, text: string) => {
    for (const alt of topLevelAlternatives(text)) negative(what, alt, alternativeToIds(alt));
  };
  const negative = (what: string, text: string, ids: Array<number | '*'> | null) => {
    if (ids === null) e.unchecked.push(`${what}: ${text}`);
    else if (ids.includes('*')) e.noRules = true;
    else e.noExpectIds.push(...(ids as number[]));
  };
  if (log.match_regex !== undefined) positive('match_regex', log.match_regex, regexToIds(log.match_regex));
  if (log.no_match_regex !== undefined) negativeRegex('no_match_regex', log.no_match_regex);
  if (output.log_contains !== undefined) positive('log_contains', output.log_contains, containsToIds(output.log_contains));
  if (output.no_log_contains !== undefined) negative('no_log_contains', output.no_log_contains, containsToIds(output.no_log_contains));
  if (output.response_contains !== undefined) e.unchecked.push(`response_contains: ${output.response_contains}`);
  if (output.status !== undefined) e.unchecked.push(`status: ${JSON.stringify(output.status)}`);
  e.expectIds = [...new Set(e.expectIds)];
  e.noExpectIds = [...new Set(e.noExpectIds)];
  return e;
}

export function hasCheckableAssertion(e: Expectation): boolean {
  return e.expectIds.length > 0 || e.noExpectIds.length > 0 || e.anyOf.length > 0 || e.noRules;
}

/** All rule ids an expectation mentions. */
export function mentionedIds(e: Expectation): number[] {
  const ids = [...e.expectIds, ...e.noExpectIds];
  for (const alt of e.anyOf) for (const id of alt) if (id !== '*') ids.push(id);
  return ids;
}

export interface Verdict {
  pass: boolean;
  missing: number[];
  unexpected: number[];
  messages: string[];
}

export function evaluateExpectation(e: Expectation, ruleIds: readonly number[]): Verdict {
  const got = new Set(ruleIds);
  const missing = e.expectIds.filter((id) => !got.has(id));
  const unexpected = e.noExpectIds.filter((id) => got.has(id));
  const messages: string[] = [];
  for (const alt of e.anyOf) {
    const ok = alt.some((id) => (id === '*' ? ruleIds.length > 0 : got.has(id)));
    if (!ok) messages.push(`none of [${alt.join(', ')}] logged`);
  }
  if (e.noRules && ruleIds.length > 0) messages.push(`expected no rule at all, got [${ruleIds.join(', ')}]`);
  if (missing.length > 0) messages.push(`missing [${missing.join(', ')}]`);
  if (unexpected.length > 0) messages.push(`unexpected [${unexpected.join(', ')}]`);
  return { pass: messages.length === 0, missing, unexpected, messages };
}

// ---- overrides ----

export function parseOverrides(text: string, path: string | null = null): OverridesFile {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${path ?? 'overrides'}: ${doc.errors[0]!.message}`);
  const root = doc.toJS() as Record<string, unknown> | null;
  const list = root?.['test_overrides'];
  if (list === undefined || list === null) return { path, entries: [] };
  if (!Array.isArray(list)) throw new Error(`${path ?? 'overrides'}: test_overrides is not a list`);
  const entries = list.map((raw, i): OverrideEntry => {
    const r = raw as Record<string, unknown>;
    const ruleId = Number(r['rule_id']);
    const testIds = (Array.isArray(r['test_ids']) ? r['test_ids'] : [r['test_ids']]).map(Number);
    if (!Number.isInteger(ruleId) || testIds.some((t) => !Number.isInteger(t))) {
      throw new Error(`${path ?? 'overrides'}: entry ${i + 1}: rule_id and test_ids must be integers`);
    }
    const reason = typeof r['reason'] === 'string' ? r['reason'].trim() : '';
    if (reason === '') throw new Error(`${path ?? 'overrides'}: entry ${i + 1} (${ruleId}): a reason is required`);
    const entry: OverrideEntry = { rule_id: ruleId, test_ids: testIds, reason };
    if (r['ignore'] === true) entry.ignore = true;
    if (r['output'] && typeof r['output'] === 'object') entry.output = r['output'] as FtwOutput;
    if (!entry.ignore && !entry.output) throw new Error(`${path ?? 'overrides'}: entry ${i + 1} (${ruleId}): give output or ignore: true`);
    return entry;
  });
  return { path, entries };
}

export function loadOverrides(path: string): OverridesFile {
  if (!existsSync(path)) return { path: null, entries: [] };
  return parseOverrides(readFileSync(path, 'utf8'), path);
}

export function findOverride(overrides: OverridesFile, stage: Pick<FtwStage, 'ruleId' | 'testId'>): OverrideEntry | null {
  return overrides.entries.find((e) => e.rule_id === stage.ruleId && e.test_ids.includes(stage.testId)) ?? null;
}
