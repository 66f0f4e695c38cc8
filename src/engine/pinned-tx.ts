// Operator-pinned TX variables (Waf option pinnedTx): e.g. the paranoia level and anomaly
// threshold from Kubernetes settings. The transaction starts with them and setvar cannot change
// them, so they win over whatever the ruleset sets (CRS crs-setup SecAction 900000, local
// SecActions) without editing rule files.
import { parseRule } from '../seclang/rule-parser.js';
import type { Directive } from '../seclang/ast.js';

/** name → value as given; returns the ruleset form (lower-cased key → {key, value}), null when empty. */
export function pinnedTxMap(pinned: Readonly<Record<string, string>> | undefined): Map<string, { key: string; value: string }> | null {
  if (pinned === undefined) return null;
  const out = new Map<string, { key: string; value: string }>();
  for (const [key, value] of Object.entries(pinned)) out.set(key.toLowerCase(), { key, value });
  return out.size === 0 ? null : out;
}

const SETVAR_TX = /^\s*'?tx\.([^=\s']+)\s*=/i;

/**
 * One warning per pinned variable that some rule sets unconditionally ("setvar at file:line is
 * ignored"). Rules that test the variable itself before setting it (CRS 901xxx "&TX:x @eq 0"
 * defaults, consistency fixes) are expected and not reported.
 */
export function pinnedSetvarWarnings(directives: readonly Directive[], pinned: ReadonlyMap<string, { key: string; value: string }>): string[] {
  const hits = new Map<string, { first: string; count: number }>();
  for (const d of directives) {
    const name = d.name.toLowerCase();
    if (name !== 'secrule' && name !== 'secaction') continue;
    const text = d.args.join(' ').toLowerCase();
    if (!text.includes('setvar')) continue;
    let mentions = false;
    for (const key of pinned.keys()) if (text.includes(key)) mentions = true;
    if (!mentions) continue;
    let spec;
    try {
      spec = parseRule(d);
    } catch {
      continue; // the compiler reports syntax errors itself
    }
    const tested = new Set(spec.variables.filter((v) => v.collection === 'TX' && v.key !== null).map((v) => v.key!.toLowerCase()));
    for (const a of spec.actions) {
      if (a.name !== 'setvar' || a.value === null) continue;
      const m = SETVAR_TX.exec(a.value);
      if (m === null) continue;
      const key = m[1]!.toLowerCase();
      if (!pinned.has(key) || tested.has(key)) continue;
      const hit = hits.get(key);
      if (hit === undefined) hits.set(key, { first: `${d.loc.file}:${d.loc.line}`, count: 1 });
      else hit.count++;
    }
  }
  const out: string[] = [];
  for (const [key, { first, count }] of hits) {
    const more = count > 1 ? ` (and ${count - 1} more)` : '';
    out.push(`tx.${key} is pinned to ${pinned.get(key)!.value} by the operator settings; setvar at ${first}${more} is ignored`);
  }
  return out;
}
