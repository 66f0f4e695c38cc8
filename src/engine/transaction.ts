// Per-request state: variables, TX collection, matched vars, ctl overrides, results.
// Created once per Check; everything that could be precomputed lives in the RuleSet instead.
import type { HttpRequest, RuleMatch } from './api.js';
import type { KV } from '../variables/types.js';
import type { OperatorTx } from '../operators/types.js';
import type { Exclusion, Rule } from './rule.js';
import type { RuleSet } from './ruleset.js';
import type { TransformNode } from './transform-pipeline.js';
import { HOT_CACHE_SLOT, type PrefilterGroup } from './accel/prefilter-group.js';
import { ValueMemo } from './value-memo.js';
import { signature } from '../transformations/identity.js';
import { parseUrlEncoded, uriDecode } from '../bodyprocessors/urlencoded.js';
import type { Budget, BudgetStop } from './budget.js';
import type { TraceRecorder } from './trace.js';
import type { VariableDef } from '../variables/types.js';

export type TxEngineMode = 'On' | 'DetectionOnly' | 'Off';

/** A stable collection's per-entry memos (Transaction.entryMemos), valid while its entry array is the same. */
interface EntryMemos {
  readonly entries: readonly KV[];
  readonly memos: ValueMemo[];
  keysLower: string[] | null;
  /** Transaction.generation when keysLower was made (a collection may change in place). */
  keysGeneration: number;
}

/** A collection's values grouped by signature (Transaction.signatureBuckets). */
interface SignatureBuckets {
  /** Per entry, its memo. */
  readonly memos: ValueMemo[];
  /** The distinct signatures, and per signature the OR of its values' raw hot-slot answers and their entry indices. */
  readonly sigs: number[];
  readonly unions: Array<Uint32Array | null>;
  readonly members: number[][];
}

/** ORs answers together: `none` while every answer was, null once one was null (no answer). */
class UnionBuilder {
  private acc: Uint32Array | null;
  private last: Uint32Array | null;
  /** Whether `acc` is our own copy (else it is an answer, shared and never written). */
  private owned = false;
  unknown = false;
  constructor(
    private readonly group: PrefilterGroup,
    /** OR every word, not only the group's (an answer the whole hot slot shares). */
    private readonly allWords = false,
  ) {
    this.acc = group.none;
    this.last = group.none;
  }

  add(h: Uint32Array | null): void {
    if (h === this.last || this.unknown) return;
    if (h === null) {
      this.unknown = true;
      this.acc = null;
      return;
    }
    this.last = h;
    let acc = this.acc!;
    if (acc === this.group.none) {
      this.acc = h; // a single distinct answer is the union itself
      return;
    }
    if (!this.owned) {
      this.acc = acc = acc.slice();
      this.owned = true;
    }
    const from = this.allWords ? 0 : this.group.wordFrom;
    const to = this.allWords ? h.length : this.group.wordTo; // only the group's bits are read
    for (let k = from; k < to; k++) acc[k] = acc[k]! | h[k]!;
  }

  result(): Uint32Array | null {
    return this.acc;
  }
}

export interface Interruption {
  ruleId: number;
  action: 'deny' | 'drop' | 'redirect' | 'proxy';
  status: number;
  redirectUrl: string | null;
}

const EMPTY: readonly KV[] = [];

/** Collections with more values than this are unioned by signature (Transaction.signatureBuckets); smaller ones value by value. */
const MIN_BUCKETED_VALUES = 8;

/** Inspected bytes between two clock reads inside a rule (~tens of µs of regex work). */
const BUDGET_CHECK_BYTES = 16384;
/** What one value counts for besides its length: the per-value loop, pipeline and operator call. */
const BUDGET_PER_VALUE_BYTES = 256;

export class Transaction implements OperatorTx {
  readonly scalars = new Map<string, KV>();
  readonly collections = new Map<string, KV[]>();
  private readonly tx = new Map<string, KV>();
  readonly startedAt = process.hrtime.bigint();

  matchedVar: KV | null = null;
  matchedVarName = '';
  matchedVars: KV[] = [];
  matchedVarsNames: KV[] = [];
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
  /** Per distinct string: its transformed forms and prefilter answers. */
  private readonly memos = new Map<string, ValueMemo>();
  /** Per collection: the memos of its entries' values, by entry index (entryMemo checks them). */
  private readonly entryMemoLists = new Map<VariableDef, EntryMemos>();
  /** Pipeline nodes of the rule set: the length of a memo's transform array. */
  private readonly pipelineNodes: number;
  /** Acceleration on: transformations the char classes of a string show to be identities are skipped. */
  private readonly skipIdentities: boolean;
  /** Per (prefilter group, collection) union of answers (accel/rule-precheck.ts); reset when any variable changes. */
  private ucache: Array<Uint32Array | null | undefined> = [];
  /** Per stable collection: its values by signature (unionAnswer); reset when any variable changes. */
  private readonly sigBuckets = new Map<VariableDef, SignatureBuckets>();
  /** Counts variable changes (dropUnionRecords). */
  private generation = 0;

  constructor(
    readonly ruleset: RuleSet,
    readonly request: HttpRequest,
  ) {
    this.mode = ruleset.engineMode;
    this.pipelineNodes = ruleset.interner.size;
    this.skipIdentities = ruleset.acceleration?.enabled === true;
    this.requestBodyAccess = ruleset.requestBodyAccess;
    const pinned = ruleset.pinnedTx;
    if (pinned !== null) for (const [lower, kv] of pinned) this.tx.set(lower, { key: kv.key, value: kv.value });
    this.collections.set('ARGS_GET', []);
    this.collections.set('ARGS_POST', []);
    this.populateRequest();
  }

  // ---- variable storage ----

  setScalar(name: string, value: string): void {
    this.dropUnionRecords();
    this.scalars.set(name, { key: '', value });
  }

  getScalar(name: string): string | undefined {
    return this.scalars.get(name)?.value;
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
    this.dropUnionRecords();
  }

  /** Adds a request argument from the query string ('GET') or a body processor ('POST'). */
  addArgument(origin: 'GET' | 'POST', key: string, value: string): boolean {
    const limit = this.ruleset.argumentsLimit;
    if (limit > 0 && this.argumentsCount >= limit) return false;
    this.argumentsCount++;
    this.dropUnionRecords();
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
    const lower = key.toLowerCase();
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

  txEntries(): readonly KV[] {
    return [...this.tx.values()];
  }

  /** Generic keyed store for setvar on TX and the other (non-persistent here) collections. */
  collectionSet(collection: string, key: string, value: string): void {
    if (collection === 'TX') return this.txSet(key, value);
    this.dropUnionRecords();
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
    this.dropUnionRecords();
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
    this.txSet(String(index), value);
  }

  recordMatchedVar(name: string, value: string): void {
    const kv = { key: name, value };
    this.matchedVar = kv;
    this.matchedVarName = name;
    this.matchedVars.push(kv);
    this.matchedVarsNames.push({ key: name, value: name });
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

  clearMatchedVars(): void {
    this.matchedVar = null;
    this.matchedVarName = '';
    if (this.matchedVars.length > 0) this.matchedVars = [];
    if (this.matchedVarsNames.length > 0) this.matchedVarsNames = [];
  }

  /** The memo of `value` (created on first use). */
  memo(value: string): ValueMemo {
    let m = this.memos.get(value);
    if (m === undefined) {
      m = new ValueMemo(value);
      this.memos.set(value, m);
    }
    return m;
  }

  private entryRecord(def: VariableDef, entries: readonly KV[]): EntryMemos {
    let rec = this.entryMemoLists.get(def);
    if (rec === undefined || rec.entries !== entries) {
      rec = { entries, memos: [], keysLower: null, keysGeneration: -1 };
      this.entryMemoLists.set(def, rec);
    }
    return rec;
  }

  /** The memos of a collection's entries, by index; read each through entryMemo. */
  entryMemos(def: VariableDef, entries: readonly KV[]): ValueMemo[] {
    return this.entryRecord(def, entries).memos;
  }

  /** The lower-cased keys of a (stable) collection's entries, by index, for keyed targets. */
  entryKeysLower(def: VariableDef, entries: readonly KV[]): readonly string[] {
    const rec = this.entryRecord(def, entries);
    if (rec.keysLower === null || rec.keysGeneration !== this.generation) {
      rec.keysLower = entries.map((kv) => kv.key.toLowerCase());
      rec.keysGeneration = this.generation;
    }
    return rec.keysLower;
  }

  /** The memo of entry `i` (`kv`) of a list from entryMemos; a value changed in place gets its own. */
  entryMemo(memos: ValueMemo[], i: number, kv: KV): ValueMemo {
    const m = memos[i];
    if (m !== undefined && m.value === kv.value) return m;
    const fresh = this.memo(kv.value);
    memos[i] = fresh;
    return fresh;
  }

  /**
   * The memo of `m`'s string after the transformations of `node`'s path, each applied once per
   * string; with acceleration on, not at all where the string's char classes show it an identity.
   */
  through(m: ValueMemo, node: TransformNode): ValueMemo {
    if (this.skipIdentities && (this.signature(m) & node.pathUnless) === 0) return m;
    let out = m.out;
    if (out === null) m.out = out = new Array<ValueMemo | undefined>(this.pipelineNodes);
    else {
      const hit = out[node.id];
      if (hit !== undefined) return hit;
    }
    const input = node.parent === null ? m : this.through(m, node.parent);
    const s = this.skipIdentities && (this.signature(input) & node.unless) === 0 ? input.value : node.fn(input.value);
    const r = s === input.value ? input : this.memo(s);
    out[node.id] = r;
    return r;
  }

  private signature(m: ValueMemo): number {
    let sig = m.sig;
    if (sig === 0) m.sig = sig = signature(m.value);
    return sig;
  }

  /** Applies a transformation pipeline, through the memos. */
  transform(node: TransformNode, value: string): string {
    return this.through(this.memo(value), node).value;
  }

  /** `group`'s answer for `m`'s string, computed once per string and cache slot; null = run every operator. */
  answer(group: PrefilterGroup, m: ValueMemo): Uint32Array | null {
    const slot = group.cacheSlot;
    if (slot === HOT_CACHE_SLOT) {
      // The literal groups' slot, asked for nearly every string: a field, not an array.
      const hit = m.answer0;
      if (hit !== undefined) return hit;
      return (m.answer0 = group.answer(m.value));
    }
    let answers = m.answers;
    if (answers === null) m.answers = answers = [];
    else {
      const hit = answers[slot];
      if (hit !== undefined) return hit;
    }
    const a = group.answer(m.value);
    answers[slot] = a;
    return a;
  }

  /** A variable changed: the union records (and lower-cased keys) may be stale. */
  private dropUnionRecords(): void {
    this.generation++;
    if (this.ucache.length !== 0) this.ucache = [];
    if (this.sigBuckets.size !== 0) this.sigBuckets.clear();
  }

  /**
   * The union (OR) of `group`'s answers over the values of `def`, each after `pipeline`: bit 1 when
   * the rule may match some value; null = no answer for some value. Cached until a variable changes,
   * so rules of one group reading one collection share one pass.
   */
  unionAnswer(slot: number, group: PrefilterGroup, pipeline: TransformNode | null, def: VariableDef): Uint32Array | null {
    const cached = this.ucache[slot];
    if (cached !== undefined) return cached;
    const entries = def.read(this);
    if (entries.length === 0) return (this.ucache[slot] = group.none);
    const u = new UnionBuilder(group);
    if (group.cacheSlot === HOT_CACHE_SLOT && this.skipIdentities && entries.length > MIN_BUCKETED_VALUES) {
      // Values whose char classes make the pipeline an identity give their own (raw) answer: one
      // OR per distinct signature for those, a pipeline pass only for the others.
      const b = this.signatureBuckets(def, group);
      const mask = pipeline === null ? 0 : pipeline.pathUnless;
      for (let k = 0; k < b.sigs.length && !u.unknown; k++) {
        if ((b.sigs[k]! & mask) === 0) {
          u.add(b.unions[k]!);
          continue;
        }
        const members = b.members[k]!;
        for (let j = 0; j < members.length && !u.unknown; j++) u.add(this.answer(group, this.through(b.memos[members[j]!]!, pipeline!)));
      }
    } else {
      const memos = this.entryMemos(def, entries);
      for (let i = 0; i < entries.length && !u.unknown; i++) {
        const m = this.entryMemo(memos, i, entries[i]!);
        u.add(this.answer(group, pipeline === null ? m : this.through(m, pipeline)));
      }
    }
    const acc = u.result();
    this.ucache[slot] = acc;
    return acc;
  }

  /**
   * `def`'s values grouped by signature, with the OR of their raw answers in the hot slot (which
   * every group of that slot shares, `group` among them); kept until a variable changes.
   */
  private signatureBuckets(def: VariableDef, group: PrefilterGroup): SignatureBuckets {
    let b = this.sigBuckets.get(def);
    if (b !== undefined) return b;
    const entries = def.read(this);
    const list = this.entryMemos(def, entries);
    const memos: ValueMemo[] = new Array<ValueMemo>(entries.length);
    const sigs: number[] = [];
    const unions: UnionBuilder[] = [];
    const members: number[][] = [];
    const index = new Map<number, number>();
    for (let i = 0; i < entries.length; i++) {
      const m = this.entryMemo(list, i, entries[i]!);
      memos[i] = m;
      const sig = this.signature(m);
      let k = index.get(sig);
      if (k === undefined) {
        index.set(sig, (k = sigs.length));
        sigs.push(sig);
        unions.push(new UnionBuilder(group, true));
        members.push([]);
      }
      members[k]!.push(i);
      const u = unions[k]!;
      u.add(this.answer(group, m));
    }
    b = { memos, sigs, unions: unions.map((u) => u.result()), members };
    this.sigBuckets.set(def, b);
    return b;
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
