// Remaining non-disruptive actions. Persistence (initcol) and audit-log-only actions have no
// effect behind ext_authz; they are accepted so unmodified rule sets load.
import { compileMacro } from '../engine/macro.js';
import type { Transaction } from '../engine/transaction.js';
import type { ActionDef } from './types.js';

const noop = (valueKind: boolean | 'optional'): ActionDef => ({ kind: 'nondisruptive', value: valueKind, apply() {} });

export const miscActions: Record<string, ActionDef> = {
  initcol: noop(true),
  expirevar: noop(true),
  deprecatevar: noop(true),
  sanitisearg: noop(true),
  sanitizearg: noop(true),
  sanitisematched: noop(false),
  sanitizematched: noop(false),
  sanitisematchedbytes: noop('optional'),
  sanitizematchedbytes: noop('optional'),
  sanitiserequestheader: noop(true),
  sanitizerequestheader: noop(true),
  sanitiseresponseheader: noop(true),
  sanitizeresponseheader: noop(true),
  xmlns: noop(true),
  append: noop(true),
  prepend: noop(true),
  setenv: {
    kind: 'nondisruptive',
    value: true,
    apply(rule, value) {
      const eq = value!.indexOf('=');
      const key = compileMacro(eq < 0 ? value! : value!.slice(0, eq));
      const val = compileMacro(eq < 0 ? '1' : value!.slice(eq + 1));
      rule.afterMatch.push((tx: Transaction) => tx.collectionSet('ENV', key.expand(tx), val.expand(tx)));
    },
  },
  setuid: {
    kind: 'nondisruptive',
    value: true,
    apply(rule, value) {
      const v = compileMacro(value!);
      rule.afterMatch.push((tx: Transaction) => tx.setScalar('USERID', v.expand(tx)));
    },
  },
  setsid: {
    kind: 'nondisruptive',
    value: true,
    apply(rule, value) {
      const v = compileMacro(value!);
      rule.afterMatch.push((tx: Transaction) => tx.setScalar('SESSIONID', v.expand(tx)));
    },
  },
  exec: {
    kind: 'nondisruptive',
    value: true,
    apply() {
      throw new Error('exec: running external scripts is not supported (no Lua/exec in Sidewall)');
    },
  },
};
