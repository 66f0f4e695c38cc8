// ctl: changes engine behaviour for the rest of the current transaction.
import type { Exclusion } from '../engine/rule.js';
import type { Transaction, TxEngineMode } from '../engine/transaction.js';
import type { ActionDef } from './types.js';

function parseOnOff(option: string, v: string): boolean {
  const l = v.trim().toLowerCase();
  if (l === 'on' || l === 'true') return true;
  if (l === 'off' || l === 'false') return false;
  throw new Error(`ctl:${option}: expected On or Off, got '${v}'`);
}

/** "1-99 105 200" → ranges. */
export function parseIdRanges(text: string, what: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of text.split(/[\s,]+/)) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new Error(`${what}: invalid rule id or range '${part}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`${what}: invalid range '${part}'`);
    out.push([a, b]);
  }
  if (out.length === 0) throw new Error(`${what}: no rule id given`);
  return out;
}

const BODY_PROCESSORS = new Set(['URLENCODED', 'MULTIPART', 'JSON', 'XML']);

export const ctlAction: ActionDef = {
  kind: 'nondisruptive',
  value: true,
  apply(rule, value, ctx) {
    const eq = value!.indexOf('=');
    if (eq <= 0) throw new Error(`ctl: expected option=value, got '${value}'`);
    const option = value!.slice(0, eq).trim();
    const arg = value!.slice(eq + 1).trim();
    let run: (tx: Transaction) => void;
    switch (option.toLowerCase()) {
      case 'ruleengine': {
        const l = arg.toLowerCase();
        const mode: TxEngineMode | null = l === 'on' ? 'On' : l === 'off' ? 'Off' : l === 'detectiononly' ? 'DetectionOnly' : null;
        if (mode === null) throw new Error(`ctl:ruleEngine: expected On, Off or DetectionOnly, got '${arg}'`);
        run = (tx) => {
          // An operator-forced mode (CLI/namespace) wins over rules that try to change it.
          if (!tx.ruleset.modeLocked) tx.mode = mode;
        };
        break;
      }
      case 'ruleremovebyid': {
        const ranges = parseIdRanges(arg, 'ctl:ruleRemoveById');
        run = (tx) => void (tx.removedIds ??= []).push(...ranges);
        break;
      }
      case 'ruleremovebytag':
        run = (tx) => void (tx.removedTags ??= []).push(arg);
        break;
      case 'ruleremovebymsg':
        run = (tx) => void (tx.removedMsgs ??= []).push(arg);
        break;
      case 'ruleremovetargetbyid':
      case 'ruleremovetargetbytag':
      case 'ruleremovetargetbymsg': {
        const semi = arg.indexOf(';');
        if (semi <= 0) throw new Error(`ctl:${option}: expected ID;TARGET, got '${arg}'`);
        const selector = arg.slice(0, semi).trim();
        const exclusions: Exclusion[] = ctx.compileExclusions(arg.slice(semi + 1));
        const kind = option.toLowerCase();
        if (kind === 'ruleremovetargetbyid') {
          const ranges = parseIdRanges(selector, `ctl:${option}`);
          run = (tx) => {
            const map = (tx.removedTargetsById ??= new Map());
            for (const [a, b] of ranges) {
              for (let id = a; id <= b && id - a < 100000; id++) {
                const list = map.get(id);
                if (list === undefined) map.set(id, exclusions.slice());
                else list.push(...exclusions);
              }
            }
          };
        } else if (kind === 'ruleremovetargetbytag') {
          run = (tx) => {
            const list = (tx.removedTargetsByTag ??= []);
            for (const e of exclusions) list.push([selector, e]);
          };
        } else {
          run = (tx) => {
            const list = (tx.removedTargetsByMsg ??= []);
            for (const e of exclusions) list.push([selector, e]);
          };
        }
        break;
      }
      case 'requestbodyprocessor': {
        const p = arg.toUpperCase();
        if (!BODY_PROCESSORS.has(p)) throw new Error(`ctl:requestBodyProcessor: unknown processor '${arg}' (expected URLENCODED, MULTIPART, JSON or XML)`);
        run = (tx) => {
          tx.requestBodyProcessor = p;
          tx.setScalar('REQBODY_PROCESSOR', p);
        };
        break;
      }
      case 'requestbodyaccess': {
        const on = parseOnOff(option, arg);
        run = (tx) => void (tx.requestBodyAccess = on);
        break;
      }
      case 'forcerequestbodyvariable': {
        const on = parseOnOff(option, arg);
        run = (tx) => void (tx.forceRequestBodyVariable = on);
        break;
      }
      case 'auditengine':
      case 'auditlogparts':
      case 'debugloglevel':
      case 'responsebodyaccess':
      case 'requestbodylimit':
      case 'hashengine':
      case 'hashenforcement':
      case 'parsexmlintoargs':
        // Audit logging and response handling are not part of an ext_authz check.
        run = () => {};
        break;
      default:
        throw new Error(`ctl: unknown option '${option}'`);
    }
    rule.afterMatch.push(run);
  },
};
