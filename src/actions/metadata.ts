// Metadata and data actions: they describe the rule and are resolved at load time.
import { compileMacro } from '../engine/macro.js';
import type { ActionDef } from './types.js';

const SEVERITIES: Record<string, number> = {
  EMERGENCY: 0, ALERT: 1, CRITICAL: 2, ERROR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7,
};

export function parseSeverity(value: string): number {
  const v = value.trim().toUpperCase();
  if (/^[0-7]$/.test(v)) return Number(v);
  const s = SEVERITIES[v];
  if (s === undefined) throw new Error(`severity: invalid value '${value}' (expected 0-7 or EMERGENCY..DEBUG)`);
  return s;
}

export function parsePhase(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'request') return 2;
  if (v === 'response') return 4;
  if (v === 'logging') return 5;
  if (/^[1-5]$/.test(v)) return Number(v);
  throw new Error(`phase: invalid value '${value}' (expected 1-5, request, response or logging)`);
}

export const metadataActions: Record<string, ActionDef> = {
  id: {
    kind: 'metadata',
    value: true,
    apply(rule, value) {
      const v = value!.trim();
      if (!/^\d+$/.test(v) || Number(v) === 0) throw new Error(`id: invalid rule id '${value}' (expected a positive integer)`);
      rule.id = Number(v);
    },
  },
  phase: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.phase = parsePhase(value!)) },
  msg: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.msg = compileMacro(value!)) },
  logdata: { kind: 'data', value: true, apply: (rule, value) => void (rule.logdata = compileMacro(value!)) },
  tag: { kind: 'metadata', value: true, apply: (rule, value) => void rule.tags.push(value!) },
  severity: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.severity = parseSeverity(value!)) },
  ver: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.ver = value!) },
  rev: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.rev = value!) },
  maturity: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.maturity = value!) },
  accuracy: { kind: 'metadata', value: true, apply: (rule, value) => void (rule.accuracy = value!) },
  t: { kind: 'nondisruptive', value: true, apply: (_rule, value, ctx) => ctx.addTransformation(value!.trim()) },
  chain: { kind: 'flow', value: false, apply: (_rule, _v, ctx) => ctx.setChained() },
  capture: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.capture = true) },
  multimatch: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.multiMatch = true) },
  log: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.log = true) },
  nolog: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.log = false) },
  auditlog: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.auditlog = true) },
  noauditlog: { kind: 'nondisruptive', value: false, apply: (rule) => void (rule.auditlog = false) },
  status: {
    kind: 'data',
    value: true,
    apply(rule, value) {
      const v = value!.trim();
      if (!/^\d{3}$/.test(v)) throw new Error(`status: invalid HTTP status '${value}'`);
      rule.status = Number(v);
    },
  },
};
