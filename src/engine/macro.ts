// Macro templates (%{TX.score}, %{MATCHED_VAR}, %{rule.id} ...) compiled once at load time.
import { getVariable } from '../variables/registry.js';
import type { VariableDef } from '../variables/types.js';
import type { Transaction } from './transaction.js';

type Part = string | { def: VariableDef; keyLower: string | null };

export interface Macro {
  /** The text when it has no macro, else null. */
  readonly constant: string | null;
  expand(tx: Transaction): string;
}

const MACRO_RE = /%\{([^}]*)\}/g;

export function hasMacro(text: string): boolean {
  return text.includes('%{');
}

/** Compiles a template; throws on unknown variable names so typos surface at load time. */
export function compileMacro(text: string): Macro {
  if (!hasMacro(text)) return { constant: text, expand: () => text };
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(MACRO_RE)) {
    if (m.index! > last) parts.push(text.slice(last, m.index));
    const ref = m[1]!;
    const sep = ref.search(/[.:]/);
    const name = sep < 0 ? ref : ref.slice(0, sep);
    const def = getVariable(name.trim());
    if (def === undefined) throw new Error(`unknown variable in macro %{${ref}}`);
    parts.push({ def, keyLower: sep < 0 ? null : ref.slice(sep + 1).toLowerCase() });
    last = m.index! + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return {
    constant: null,
    expand(tx: Transaction): string {
      let out = '';
      for (const p of parts) out += typeof p === 'string' ? p : resolve(tx, p.def, p.keyLower);
      return out;
    },
  };
}

function resolve(tx: Transaction, def: VariableDef, keyLower: string | null): string {
  if (keyLower !== null && def.name === 'TX') return tx.txGet(keyLower)?.value ?? '';
  const entries = def.read(tx);
  if (keyLower === null) return entries.length > 0 ? entries[0]!.value : '';
  for (const e of entries) if (e.key.toLowerCase() === keyLower) return e.value;
  return '';
}
