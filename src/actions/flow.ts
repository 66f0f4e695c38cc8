// Flow actions: skipping rules.
import type { ActionDef } from './types.js';

export const flowActions: Record<string, ActionDef> = {
  skipafter: { kind: 'flow', value: true, apply: (rule, value) => void (rule.skipAfter = value!.trim()) },
  skip: {
    kind: 'flow',
    value: true,
    apply(rule, value) {
      const n = Number(value!.trim());
      if (!Number.isInteger(n) || n < 1) throw new Error(`skip: invalid count '${value}' (expected a positive integer)`);
      rule.skip = n;
    },
  },
};
