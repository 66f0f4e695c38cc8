// Per-request state: variables, TX collection, matched vars, ctl overrides, results.
// Created once per Check; everything that could be precomputed lives in the RuleSet instead.
import type { HttpRequest, RuleMatch } from './api.js';
import type { KV } from '../variables/types.js';
import type { OperatorTx } from '../operators/types.js';
import type { Exclusion, Rule } from './rule.js';
import type { RuleSet } from './ruleset.js';
import { ValueCache } from './value-cache.js';
import { parseUrlEncoded, uriDecode } from '../bodyprocessors/urlencoded.js';
import type { Budget, BudgetStop } from './budget.js';
import type { TraceRecorder } from './trace.js';

export type TxEngineMode = 'On' | 'DetectionOnly' | 'Off';

export interface Interruption {
  ruleId: number;
  action: 'deny' | 'drop' | 'redirect' | 'proxy';
  status: number;
  redirectUrl: string | null;
}

/** TX keys of the capture slots TX:0..9. */
const CAPTURE_KEYS: readonly string[] = Array.from({ length: 10 }, (_, i) => String(i));
const EMPTY: readonly KV[] = [];

/** Inspected bytes between two clock reads inside a rule (~tens of µs of regex work). */
const BUDGET_CHECK_BYTES = 16384;
/** What one value counts for besides its length: the per-value loop, pipeline and operator call. */
const BUDGET_PER_VALUE_BYTES = 256;

export class Transaction implements OperatorTx {
  /** Scalar variables, each as the one-entry list a read returns (the same list until it is set again). */
  readonly scalars = new Map<string, readonly KV[]>();
  readonly collections = new Map<string, KV[]>();
  private readonly tx = new Map<string, KV>();
  /** performance.now() at construction, for DURATION (a number: no BigInt per request). */
  readonly startedAt = performance.now();

  matchedVar: KV | null = null;
  matchedVarName = '';
  /** MATCHED_VARS of the running rule: one list, emptied for each rule (readers copy dynamic collections). */
  readonly matchedVars: KV[] = [];
  /**
   * The entry objects matchedVars has held, reused by later rules: nothing keeps an entry past its
   * rule (match records, macros and traces copy the strings), and within a rule entries are only
   * appended, so an entry in use is never overwritten.
   */
  private readonly matchedVarPool: KV[] = [];
  /** MATCHED_VARS_NAMES, made from matchedVars when read. */
  private matchedNames: KV[] | null = null;
  captureEnabled = false;
  currentRule: Rule | null = null;

  mode: TxEngineMode;
  requestBodyAccess: boolean;
  requestBodyProcessor: string | null = null;
  forceRequestBodyVariable = false;
  argumentsCount = 0;
  private argsCombinedSize = 0;

  // ctl: removals made while the request runs
  removedIds: Array<[number, number]> | null = null;
  removedTags: string[] | null = null;
  removedMsgs: string[] | null = null;
  removedTargetsById: Map<number, Exclusion[]> | null = null;
  removedTargetsByTag: Array<[string, Exclusion]> | null = null;
  removedTargetsByMsg: Array<[string, Exclusion]> | null = null;

  readonly matches: RuleMatch[] = [];
  readonly loggedIds: number[] = [];
  interruption: Interruption | null = null;
  /** First disruptive rule that did not interrupt because the engine was in DetectionOnly. */
  wouldInterrupt: Interruption | null = null;
  interrupted = false;
  /** Set by allow: which phases still run. */
  allowAll = false;
  allowPhase = false;
  allowRequest = false;
  highestSeverity = 255;
  /** Time budget consulted between rules (Waf.evaluate); null = unbounded. */
  budget: Budget | null = null;
  /** Where evaluation stopped because the budget ran out; null = it did not. */
  budgetStop: BudgetStop | null = null;
  /** Bytes of values inspected since the budget was last consulted inside a rule (budgetSpent). */
  private budgetBytes = 0;
  /** Set by Waf.evaluateTraced only; every hook is behind a null check. */
  trace: TraceRecorder | null = null;

  private argsCache: KV[] | null = null;
  private readonly namesCache = new Map<string, KV[]>();
  /** What this request's strings became: transformed forms, prefilter answers, unions (value-cache.ts). */
  readonly values: ValueCache;

  constructor(
    readonly ruleset: RuleSet,
    readonly request: HttpRequest,
  ) {
    this.values = new ValueCache(this, ruleset);
    this.mode = ruleset.engineMode;
    this.requestBodyAccess = ruleset.requestBodyAccess;
    const pinned = ruleset.pinnedTx;
    if (pinned !== null) for (const [lower, kv] of pinned) this.tx.set(lower, { key: kv.key, value: kv.value });
    this.collections.set('ARGS_GET', []);
    this.collections.set('ARGS_POST', []);
    this.populateRequest();
  }

  // ---- variable storage ----

  setScalar(name: string, value: string): void {
    this.variableChanged();
    this.scalars.set(name, [{ key: '', value }]);
  }

  getScalar(name: string): string | undefined {
    return this.scalars.get(name)?.[0]!.value;
  }

  collection(name: string): readonly KV[] {
    return this.collections.get(name) ?? EMPTY;
  }

  addToCollection(name: string, key: string, value: string): void {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = [];
      this.collections.set(name, c);
    }
    c.push({ key, value });
    this.namesCache.delete(name);
    this.variableChanged();
  }

  /** Adds a request argument from the query string ('GET') or a body processor ('POST'). */
  addArgument(origin: 'GET' | 'POST', key: string, value: string): boolean {
    const limit = this.ruleset.argumentsLimit;
    if (limit > 0 && this.argumentsCount >= limit) return false;
    this.argumentsCount++;
    this.variableChanged();
    this.collections.get(origin === 'GET' ? 'ARGS_GET' : 'ARGS_POST')!.push({ key, value });
    this.argsCache = null;
    this.namesCache.delete('ARGS');
    this.namesCache.delete(origin === 'GET' ? 'ARGS_GET' : 'ARGS_POST');
    this.argsCombinedSize += key.length + value.length;
    this.setScalar('ARGS_COMBINED_SIZE', String(this.argsCombinedSize));
    return true;
  }

  args(): readonly KV[] {
    if (this.argsCache === null) {
      const get = this.collections.get('ARGS_GET')!;
      const post = this.collections.get('ARGS_POST')!;
      this.argsCache = post.length === 0 ? get : get.length === 0 ? post : get.concat(post);
    }
    return this.argsCache;
  }

  /** ARGS_NAMES, ARGS_GET_NAMES, ARGS_POST_NAMES: key and value are the argument name. */
  names(collection: string): readonly KV[] {
    let c = this.namesCache.get(collection);
    if (c === undefined) {
      const src = collection === 'ARGS' ? this.args() : this.collection(collection);
      c = src.map((kv) => ({ key: kv.key, value: kv.key }));
      this.namesCache.set(collection, c);
    }
    return c;
  }

  txGet(keyLower: string): KV | undefined {
    return this.tx.get(keyLower);
  }

  txSet(key: string, value: string): void {
    this.txSetLower(key.toLowerCase(), key, value);
  }

  /** txSet with the key's lower-case form known already (constant setvar keys, capture slots). */
  txSetLower(lower: string, key: string, value: string): void {
    if (this.ruleset.pinnedTx !== null && this.ruleset.pinnedTx.has(lower)) return; // operator settings win
    const kv = this.tx.get(lower);
    if (this.trace !== null) this.trace.varChanged('TX', key, kv?.value ?? null, value);
    if (kv === undefined) this.tx.set(lower, { key, value });
    else kv.value = value;
  }

  txDelete(key: string): void {
    const lower = key.toLowerCase();
    if (this.ruleset.pinnedTx !== null && this.ruleset.pinnedTx.has(lower)) return;
    if (this.trace !== null) this.trace.varChanged('TX', key, this.tx.get(lower)?.value ?? null, null);
    this.tx.delete(lower);
  }

  /** The TX variables, as a fresh list (a rule reading TX may set TX while it iterates). */
  txEntries(): readonly KV[] {
    return [...this.tx.values()];
  }

  /** Generic keyed store for setvar on TX and the other (non-persistent here) collections. */
  collectionSet(collection: string, key: string, value: string): void {
    if (collection === 'TX') return this.txSet(key, value);
    this.variableChanged();
    let c = this.collections.get(collection);
    if (c === undefined) {
      c = [];
      this.collections.set(collection, c);
    }
    const lower = key.toLowerCase();
    const kv = c.find((e) => e.key.toLowerCase() === lower);
    if (this.trace !== null) this.trace.varChanged(collection, key, kv?.value ?? null, value);
    if (kv === undefined) c.push({ key, value });
    else kv.value = value;
  }

  collectionGet(collection: string, key: string): string | undefined {
    if (collection === 'TX') return this.tx.get(key.toLowerCase())?.value;
    const lower = key.toLowerCase();
    return this.collections.get(collection)?.find((e) => e.key.toLowerCase() === lower)?.value;
  }

  collectionDelete(collection: string, key: string): void {
    if (collection === 'TX') return this.txDelete(key);
    this.variableChanged();
    const c = this.collections.get(collection);
    if (c === undefined) return;
    const lower = key.toLowerCase();
    const i = c.findIndex((e) => e.key.toLowerCase() === lower);
    if (i >= 0 && this.trace !== null) this.trace.varChanged(collection, key, c[i]!.value, null);
    if (i >= 0) c.splice(i, 1);
  }

  ruleEntries(): readonly KV[] {
    const r = this.currentRule?.head;
    if (r === undefined) return EMPTY;
    const out: KV[] = [{ key: 'id', value: String(r.id) }];
    if (r.rev) out.push({ key: 'rev', value: r.rev });
    if (r.ver) out.push({ key: 'ver', value: r.ver });
    if (r.severity !== null) out.push({ key: 'severity', value: String(r.severity) });
    if (r.msg !== null) out.push({ key: 'msg', value: r.msg.constant ?? r.msg.expand(this) });
    if (r.logdata !== null) out.push({ key: 'logdata', value: r.logdata.constant ?? r.logdata.expand(this) });
    out.push({ key: 'phase', value: String(r.phase) });
    return out;
  }

  // ---- operator support ----

  setCapture(index: number, value: string): void {
    const key = CAPTURE_KEYS[index];
    if (key !== undefined) this.txSetLower(key, key, value);
    else this.txSet(String(index), value);
  }

  recordMatchedVar(name: string, value: string): void {
    const pool = this.matchedVarPool;
    const at = this.matchedVars.length;
    let kv = pool[at];
    if (kv === undefined) pool.push((kv = { key: name, value }));
    else {
      kv.key = name;
      kv.value = value;
    }
    this.matchedVar = kv;
    this.matchedVarName = name;
    this.matchedVars.push(kv);
    this.matchedNames = null;
  }

  /**
   * Consulted inside a rule's per-value loop so one rule over a hostile body (thousands of values,
   * or a few huge ones) cannot run far past the budget: asks the clock only once per
   * BUDGET_CHECK_BYTES of inspected values (plus one per value for the loop's own cost), so benign
   * requests pay a counter add. On exhaustion records where it stopped; the caller stops the rule.
   */
  budgetSpent(valueLength: number): boolean {
    const budget = this.budget;
    if (budget === null) return false;
    this.budgetBytes += valueLength + BUDGET_PER_VALUE_BYTES;
    if (this.budgetBytes < BUDGET_CHECK_BYTES) return false;
    this.budgetBytes = 0;
    if (!budget.exhausted()) return false;
    const rule = this.currentRule?.head ?? null;
    if (this.budgetStop === null) this.budgetStop = { ruleId: rule === null ? 0 : rule.id, phase: rule === null ? 0 : rule.phase };
    return true;
  }

  matchedVarsNames(): readonly KV[] {
    return (this.matchedNames ??= this.matchedVars.map((kv) => ({ key: kv.key, value: kv.key })));
  }

  clearMatchedVars(): void {
    this.matchedVar = null;
    this.matchedVarName = '';
    if (this.matchedVars.length > 0) {
      this.matchedVars.length = 0;
      this.matchedNames = null;
    }
  }

  /** A variable changed: the unions (and lower-cased keys) may be stale. */
  private variableChanged(): void {
    this.values.invalidate();
  }

  // ---- ctl removals ----

  isRuleRemoved(rule: Rule): boolean {
    if (this.removedIds !== null) {
      for (const [a, b] of this.removedIds) if (rule.id >= a && rule.id <= b) return true;
    }
    if (this.removedTags !== null) {
      for (const t of this.removedTags) if (rule.tags.includes(t)) return true;
    }
    if (this.removedMsgs !== null && rule.msg !== null && rule.msg.constant !== null) {
      if (this.removedMsgs.includes(rule.msg.constant)) return true;
    }
    return false;
  }

  runtimeExclusionsFor(rule: Rule): Exclusion[] | null {
    // Small enough to be inlined into every rule's evaluation; the rare ctl case is out of line.
    if (this.removedTargetsById === null && this.removedTargetsByTag === null && this.removedTargetsByMsg === null) return null;
    return this.collectRuntimeExclusions(rule);
  }

  private collectRuntimeExclusions(rule: Rule): Exclusion[] | null {
    const byId = this.removedTargetsById?.get(rule.id);
    let out: Exclusion[] | null = byId === undefined ? null : byId.slice();
    if (this.removedTargetsByTag !== null) {
      for (const [tag, e] of this.removedTargetsByTag) if (rule.tags.includes(tag)) (out ??= []).push(e);
    }
    const msg = rule.msg?.constant;
    if (this.removedTargetsByMsg !== null && msg != null) {
      for (const [m, e] of this.removedTargetsByMsg) if (m === msg) (out ??= []).push(e);
    }
    return out;
  }

  // ---- request population ----

  private populateRequest(): void {
    const req = this.request;
    this.setScalar('UNIQUE_ID', req.id);
    this.setScalar('REMOTE_ADDR', req.clientIp);
    this.setScalar('REMOTE_HOST', req.clientIp);
    this.setScalar('REMOTE_PORT', String(req.clientPort));
    this.setScalar('SERVER_ADDR', req.serverIp);
    this.setScalar('SERVER_PORT', String(req.serverPort));
    this.populateUri(req.method, req.uri, req.protocol);
    this.populateHeaders(req.headers);
  }

  /** REQUEST_LINE/URI/FILENAME/... from the raw request target, as ModSecurity v3's processURI. */
  private populateUri(method: string, uri: string, protocol: string): void {
    const decoded = uriDecode(uri);
    const qDecoded = decoded.indexOf('?');
    const qRaw = uri.indexOf('?');
    this.setScalar('REQUEST_METHOD', method);
    this.setScalar('REQUEST_LINE', `${method} ${uri} ${protocol}`);
    this.setScalar('REQUEST_PROTOCOL', protocol);
    const pathInfo = qDecoded < 0 ? decoded : decoded.slice(0, qDecoded);
    this.setScalar('PATH_INFO', pathInfo);
    this.setScalar('REQUEST_FILENAME', pathInfo);
    const slash = Math.max(pathInfo.lastIndexOf('/'), pathInfo.lastIndexOf('\\'));
    // The last path segment ('' for "/"), as Coraza and current libmodsecurity expose it.
    this.setScalar('REQUEST_BASENAME', slash >= 0 ? pathInfo.slice(slash + 1) : pathInfo);
    let parsedUri = decoded;
    if (decoded.length > 0 && decoded[0] !== '/') {
      // absolute-form: strip scheme://authority
      const colon = decoded.indexOf(':');
      if (colon >= 0 && decoded.startsWith('//', colon + 1)) {
        const path = decoded.indexOf('/', colon + 3);
        if (path >= 0) parsedUri = decoded.slice(path);
      }
    }
    this.setScalar('REQUEST_URI', parsedUri);
    this.setScalar('REQUEST_URI_RAW', uri);
    if (qRaw >= 0) {
      const qs = uri.slice(qRaw + 1);
      this.setScalar('QUERY_STRING', qs);
      if (qs.length > 0) {
        const parsed = parseUrlEncoded(qs, this.ruleset.argumentSeparator);
        for (const [k, v] of parsed.pairs) this.addArgument('GET', k, v);
        if (parsed.invalid) this.setScalar('URLENCODED_ERROR', '1');
      }
    } else {
      this.setScalar('QUERY_STRING', '');
    }
  }

  private populateHeaders(headers: Array<[string, string]>): void {
    const hdrs: KV[] = [];
    const names: KV[] = [];
    for (const [name, value] of headers) {
      hdrs.push({ key: name, value });
      names.push({ key: name, value: name });
      const lower = name.toLowerCase();
      if (lower === 'cookie') this.parseCookies(value);
      else if (lower === 'authorization') this.setScalar('AUTH_TYPE', value.split(' ')[0] ?? '');
      else if (lower === 'host') this.setScalar('SERVER_NAME', value.split(':')[0] ?? '');
      else if (lower === 'content-type') {
        const ct = value.toLowerCase();
        if (ct.startsWith('multipart/form-data')) this.setScalar('REQBODY_PROCESSOR', 'MULTIPART');
        else if (ct.startsWith('application/x-www-form-urlencoded')) this.setScalar('REQBODY_PROCESSOR', 'URLENCODED');
      }
    }
    this.collections.set('REQUEST_HEADERS', hdrs);
    this.collections.set('REQUEST_HEADERS_NAMES', names);
  }

  /** Cookie header → REQUEST_COOKIES(_NAMES), as ModSecurity v3 splits it. */
  private parseCookies(header: string): void {
    const parts = header.split(';');
    if (parts.length > 0) parts[parts.length - 1] = parts[parts.length - 1]!.replace(/\s+$/, '');
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    for (const c of parts) {
      if (c.length === 0) continue;
      const eq = c.indexOf('=');
      let key = eq < 0 ? c : c.slice(0, eq);
      const value = eq < 0 ? '' : c.slice(eq + 1);
      key = key.replace(/^\s+/, '');
      if (key.length === 0) continue;
      this.addToCollection('REQUEST_COOKIES_NAMES', key, key);
      this.addToCollection('REQUEST_COOKIES', key, value);
    }
  }
}
