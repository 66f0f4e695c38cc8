// Whole-rule prefilter: a prefiltered rule (literal automaton or RE2.Set, see prefilter-group.ts)
// is skipped before its target loop when its prefilter says "cannot match" for every value of every
// target. For a target that reads a whole stable collection (ARGS, REQUEST_HEADERS, ... with or
// without exclusions or a regex key) the transaction keeps, per prefilter group and collection, the
// union of the group's answers over all values: one lookup per rule instead of one per value, and
// a superset of what the rule reads (exclusions only remove values), so the skip stays sound. Only
// rules that "maybe" match run the per-value loop, which decides exactly as before — for such
// whole-collection targets through the same memos (Rule.unionSlots), so nothing is computed twice.
import type { Rule, RulePrecheck } from '../rule.js';
import type { Transaction } from '../transaction.js';
import type { VariableDef } from '../../variables/types.js';
import { maybe, type PrefilterGroup } from './prefilter-group.js';
import type { TransformNode } from '../transform-pipeline.js';

const UNION = 0; // whole stable collection: the transaction's cached union
const TX_KEY = 1; // TX:name: the current value
const KEYED = 2; // COLLECTION:name: the values under that key

/** Assigns dense ids to (group, collection) unions. */
export class UnionSlots {
  private readonly ids = new Map<string, number>();
  slot(group: PrefilterGroup, def: VariableDef): number {
    const key = `${group.id}/${def.name}`;
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = this.ids.size));
    return id;
  }
  get size(): number {
    return this.ids.size;
  }
}

/** Installs a precheck on every eligible prefiltered link; returns how many got one. */
export function buildRulePrechecks(links: Iterable<Rule>, slots: UnionSlots): number {
  let n = 0;
  for (const r of links) {
    r.precheck = null;
    r.unionSlots = null;
    const p = precheckFor(r, slots);
    if (p !== null) {
      r.precheck = p.precheck;
      r.unionSlots = p.unionSlots;
      n++;
    }
  }
  return n;
}

function precheckFor(rule: Rule, slots: UnionSlots): { precheck: RulePrecheck; unionSlots: Int32Array } | null {
  const pf = rule.prefilter;
  // negated: a "cannot match" value makes the rule match; multiMatch: intermediate stages are tested too.
  if (pf === null || rule.negated || rule.multiMatch || rule.targets.length === 0) return null;
  const kinds: number[] = [];
  const defs: VariableDef[] = [];
  const keys: string[] = [];
  const unionIds: number[] = [];
  for (const t of rule.targets) {
    if (t.count) return null;
    if (t.def.name === 'TX' && t.keyLower !== null) {
      kinds.push(TX_KEY);
    } else if (t.def.dynamic) {
      return null;
    } else {
      kinds.push(t.keyLower === null ? UNION : KEYED);
    }
    defs.push(t.def);
    keys.push(t.keyLower ?? '');
    unionIds.push(t.keyLower === null && !t.def.dynamic ? slots.slot(pf.group, t.def) : -1);
  }
  const group = pf.group;
  const index = pf.index;
  const pipeline: TransformNode | null = rule.pipeline;
  const count = kinds.length;
  const mayHit = (tx: Transaction, value: string): boolean => {
    const m = tx.values.memo(value);
    const h = tx.values.answer(group, tx.values.through(m, pipeline));
    return h === null || maybe(h, index);
  };
  const precheck: RulePrecheck = (tx) => {
    for (let t = 0; t < count; t++) {
      const kind = kinds[t];
      if (kind === UNION) {
        const u = tx.values.unionAnswer(unionIds[t]!, group, pipeline, defs[t]!);
        if (u === null || maybe(u, index)) return true;
      } else if (kind === TX_KEY) {
        const kv = tx.txGet(keys[t]!);
        if (kv !== undefined && mayHit(tx, kv.value)) return true;
      } else {
        const key = keys[t]!;
        const entries = defs[t]!.read(tx);
        for (let i = 0; i < entries.length; i++) {
          const kv = entries[i]!;
          if (kv.key.toLowerCase() === key && mayHit(tx, kv.value)) return true;
        }
      }
    }
    return false;
  };
  return { precheck, unionSlots: Int32Array.from(unionIds) };
}
