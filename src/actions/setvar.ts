// setvar: writes TX (and the other collections) with =, =+, =- and ! (delete); macros in key and value.
import { atoi } from '../engine/bytes.js';
import { compileMacro } from '../engine/macro.js';
import type { Transaction } from '../engine/transaction.js';
import type { ActionDef } from './types.js';

const COLLECTIONS = new Set(['TX', 'IP', 'SESSION', 'USER', 'GLOBAL', 'RESOURCE', 'ENV']);

export const setvarActions: Record<string, ActionDef> = {
  setvar: {
    kind: 'nondisruptive',
    value: true,
    apply(rule, value) {
      let spec = value!.trim();
      let remove = false;
      if (spec.startsWith('!')) {
        remove = true;
        spec = spec.slice(1);
      }
      const dot = spec.indexOf('.');
      if (dot <= 0) throw new Error(`setvar: expected COLLECTION.name in '${value}'`);
      const collection = spec.slice(0, dot).toUpperCase();
      if (!COLLECTIONS.has(collection)) throw new Error(`setvar: unknown collection '${spec.slice(0, dot)}' in '${value}'`);
      const rest = spec.slice(dot + 1);
      const eq = rest.indexOf('=');
      const keyText = eq < 0 ? rest : rest.slice(0, eq);
      let op: '=' | '+' | '-' = '=';
      let valueText = eq < 0 ? '1' : rest.slice(eq + 1);
      if (eq >= 0 && (valueText.startsWith('+') || valueText.startsWith('-'))) {
        op = valueText[0] as '+' | '-';
        valueText = valueText.slice(1);
      }
      const key = compileMacro(keyText);
      const val = compileMacro(valueText);
      if (remove) {
        rule.perMatch.push((tx: Transaction) => tx.collectionDelete(collection, key.constant ?? key.expand(tx)));
        return;
      }
      if (collection === 'TX' && key.constant !== null) {
        // The common case (CRS scores and flags): the key's lower-case form is known at load.
        const name = key.constant;
        const lower = name.toLowerCase();
        if (op === '=') {
          rule.perMatch.push((tx: Transaction) => tx.txSetLower(lower, name, val.constant ?? val.expand(tx)));
          return;
        }
        const delta = op === '+' ? 1 : -1;
        rule.perMatch.push((tx: Transaction) => {
          const current = atoi(tx.txGet(lower)?.value ?? '0');
          tx.txSetLower(lower, name, String(current + delta * atoi(val.constant ?? val.expand(tx))));
        });
        return;
      }
      if (op === '=') {
        rule.perMatch.push((tx: Transaction) => {
          tx.collectionSet(collection, key.constant ?? key.expand(tx), val.constant ?? val.expand(tx));
        });
        return;
      }
      const sign = op === '+' ? 1 : -1;
      rule.perMatch.push((tx: Transaction) => {
        const k = key.constant ?? key.expand(tx);
        const current = atoi(tx.collectionGet(collection, k) ?? '0');
        tx.collectionSet(collection, k, String(current + sign * atoi(val.constant ?? val.expand(tx))));
      });
    },
  },
};
