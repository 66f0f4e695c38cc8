// The Aho-Corasick automaton (sorted-trie construction, dense rows near the root, sparse edges
// deeper) against a naive reference on generated phrase sets: collect() finds exactly the phrases
// that occur, search() the one ending earliest (the longest among those ending there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AhoCorasick } from '../src/operators/aho-corasick.js';

const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function naiveFound(phrases: readonly string[], input: string, ci: boolean): Set<number> {
  const hay = ci ? fold(input) : input;
  const out = new Set<number>();
  phrases.forEach((p, i) => {
    if (hay.includes(ci ? fold(p) : p)) out.add(i);
  });
  return out;
}

function naiveSearch(phrases: readonly string[], input: string, ci: boolean): number {
  const hay = ci ? fold(input) : input;
  let best = -1;
  let bestEnd = Infinity;
  phrases.forEach((p, i) => {
    const q = ci ? fold(p) : p;
    const at = hay.indexOf(q);
    if (at < 0) return;
    const end = at + q.length;
    if (end < bestEnd || (end === bestEnd && q.length > phrases[best]!.length)) {
      best = i;
      bestEnd = end;
    }
  });
  return best;
}

// A small alphabet makes phrases overlap, share prefixes and sit deep in the trie.
const ch = fc.constantFrom('a', 'b', 'A', 'c', '/', '.', '\xe9', ' ');
const phrase = fc.array(ch, { minLength: 1, maxLength: 14 }).map((a) => a.join(''));
const input = fc.array(ch, { maxLength: 60 }).map((a) => a.join(''));

test('property: collect and search agree with a naive scan', () => {
  fc.assert(
    fc.property(fc.array(phrase, { minLength: 1, maxLength: 40 }), fc.array(input, { minLength: 1, maxLength: 5 }), fc.boolean(), (phrases, inputs, ci) => {
      const ac = new AhoCorasick(phrases, ci);
      const kept = ac.phrases;
      const seen = new Uint8Array(kept.length);
      const found = new Int32Array(kept.length);
      for (const s of inputs) {
        const n = ac.collect(s, seen, found);
        const got = new Set(Array.from(found.subarray(0, n)));
        for (let k = 0; k < n; k++) seen[found[k]!] = 0;
        assert.deepEqual(got, naiveFound(kept, s, ci), `collect ${JSON.stringify(s)} in ${JSON.stringify(kept)}`);
        assert.equal(ac.search(s), naiveSearch(kept, s, ci), `search ${JSON.stringify(s)} in ${JSON.stringify(kept)}`);
      }
    }),
    { numRuns: 1500, seed: 5 },
  );
});

test('large phrase lists keep the first spelling of duplicates and find deep phrases', () => {
  const phrases: string[] = [];
  for (let i = 0; i < 5000; i++) phrases.push(`/usr/share/${i.toString(36)}/file${i % 97}.conf`);
  phrases.push('/USR/share/0/file0.conf'); // duplicate of phrase 0 after folding
  const ac = new AhoCorasick(phrases, true);
  assert.equal(ac.phrases.length, 5000);
  assert.equal(ac.phrases[0], '/usr/share/0/file0.conf');
  assert.equal(ac.firstMatch('GET /x?p=/usr/share/zzzz/file1.conf HTTP/1.1'), undefined);
  const i = 4321;
  assert.equal(ac.firstMatch(`x/usr/share/${i.toString(36)}/file${i % 97}.confy`), phrases[i]);
});
