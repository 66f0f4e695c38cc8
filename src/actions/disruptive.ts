// Disruptive actions decide what happens to the request when the rule (chain) matches.
import { compileMacro } from '../engine/macro.js';
import type { Disruptive } from '../engine/rule.js';
import type { ActionDef } from './types.js';

function simple(kind: Disruptive): ActionDef {
  return { kind: 'disruptive', value: false, apply: (rule) => void (rule.disruptive = kind) };
}

export const disruptiveActions: Record<string, ActionDef> = {
  pass: simple('pass'),
  deny: simple('deny'),
  drop: simple('drop'),
  block: simple('block'),
  allow: {
    kind: 'disruptive',
    value: 'optional',
    apply(rule, value) {
      rule.disruptive = 'allow';
      const v = (value ?? '').trim().toLowerCase();
      if (v === '') rule.allowScope = 'all';
      else if (v === 'phase') rule.allowScope = 'phase';
      else if (v === 'request') rule.allowScope = 'request';
      else throw new Error(`allow: invalid value '${value}' (expected phase or request)`);
    },
  },
  redirect: {
    kind: 'disruptive',
    value: true,
    apply(rule, value) {
      rule.disruptive = 'redirect';
      rule.redirect = compileMacro(value!);
    },
  },
  proxy: {
    kind: 'disruptive',
    value: true,
    apply(rule, _value, ctx) {
      // An ext_authz server cannot proxy; treat as deny so the request is not let through.
      ctx.warn('proxy action cannot be honoured behind ext_authz; it denies instead');
      rule.disruptive = 'deny';
    },
  },
};
