// ValueCache.through links a t:lowercase / t:uppercase result to the string it came from, and the
// hot slot (literal automaton) answers it with that string's answer. That must be exactly the answer
// of the result itself (or null, "run every operator", where the result is the truncated byte form
// of a string with chars above 0xff, which is never linked), whatever the order strings are met in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Waf } from '../src/engine/waf.js';
import { Transaction } from '../src/engine/transaction.js';
import { HOT_CACHE_SLOT, type PrefilterGroup } from '../src/engine/accel/prefilter-group.js';
import { lowercase, uppercase } from '../src/transformations/case.js';
import { urlDecodeUni } from '../src/transformations/url.js';
import type { HttpRequest } from '../src/engine/api.js';

const RULES = `
SecRuleEngine On
SecRule ARGS "@rx (?i)union\\s+select" "id:1,phase:2,deny,t:none"
SecRule ARGS "@rx (?i)<script" "id:2,phase:2,deny,t:none,t:lowercase"
SecRule ARGS "@pm evil DROP Table" "id:3,phase:2,deny,t:none,t:uppercase"
SecRule ARGS "@rx (?:'|\\"|;)\\s*or\\s+1=1" "id:4,phase:2,deny,t:none,t:lowercase,t:uppercase"
`;

const waf = Waf.fromString(RULES, 'case-twin.conf', { onWarning: () => {} });
const request: HttpRequest = {
  id: 't', method: 'GET', uri: '/', protocol: 'HTTP/1.1', headers: [['host', 'a']], body: null, bodyPartial: false,
  clientIp: '10.0.0.1', clientPort: 1, serverIp: '10.0.0.2', serverPort: 80,
};

function hotGroup(): PrefilterGroup {
  for (const items of waf.ruleset.phases) {
    for (const item of items) {
      const pf = (item as { prefilter?: { group: PrefilterGroup } | null }).prefilter;
      if (pf != null && pf.group.cacheSlot === HOT_CACHE_SLOT) return pf.group;
    }
  }
  throw new Error('no literal group in the test rules');
}

const group = hotGroup();
const lower = waf.ruleset.interner.intern([{ name: 'lowercase', fn: lowercase }])!;
const upper = waf.ruleset.interner.intern([{ name: 'uppercase', fn: uppercase }])!;
const lowerUpper = waf.ruleset.interner.intern([{ name: 'lowercase', fn: lowercase }, { name: 'uppercase', fn: uppercase }])!;
/** Not a case change: its results must never borrow an answer. */
const decodeLower = waf.ruleset.interner.intern([{ name: 'urlDecodeUni', fn: urlDecodeUni }, { name: 'lowercase', fn: lowercase }])!;

const word = fc.constantFrom('UNION SELECT', 'union select', 'UNION%20SELECT', '%3CSCRIPT', 'dr%4fp', '<SCRIPT>', '<ScRiPt', 'evil', 'DROP', "' OR 1=1", 'plain text', 'ÀÉ', 'Ā', '\u0100x');
const value = fc.oneof(
  fc.array(word, { maxLength: 4 }).map((w) => w.join(' ')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
);

function same(actual: Uint32Array | null, expected: Uint32Array | null, result: string, from: string): void {
  const where = `${JSON.stringify(result)} from ${JSON.stringify(from)}`;
  if (expected === null) assert.equal(actual, null, where);
  else assert.deepEqual(actual === null ? null : [...actual], [...expected], where);
}

test('a case-changed string gets exactly its own literal answer, in any order strings are met', () => {
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }), (values, order) => {
      const tx = new Transaction(waf.ruleset, request);
      const nodes = [lower, upper, lowerUpper, decodeLower];
      // Case variants of one another, met through different pipelines (twins of twins, cycles of case).
      const all = values.flatMap((v) => [v, lowercase(v), uppercase(v)]);
      for (let i = 0; i < all.length; i++) {
        const from = all[i]!;
        const node = nodes[order[i % order.length]!]!;
        const m = tx.values.through(tx.values.memo(from), node);
        same(tx.values.answer(group, m), group.answer(m.value), m.value, from);
      }
    }),
    { numRuns: 400, seed: 5 },
  );
});

test('the rules decide as without acceleration on case variants', () => {
  const off = Waf.fromString(RULES, 'case-twin.conf', { onWarning: () => {}, acceleration: false });
  for (const v of ['UNION SELECT 1', 'x <ScRiPt>', 'DROP table', "' OR 1=1", 'harmless', 'ÀÉ <SCRIPT', '\u0100 union select']) {
    const req = { ...request, uri: `/?a=${encodeURIComponent(v)}&b=${encodeURIComponent(v.toLowerCase())}` };
    assert.deepEqual(waf.evaluate(req).ruleIds, off.evaluate(req).ruleIds, v);
  }
});
