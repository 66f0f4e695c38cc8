// Benchmark of the transformations: ns per input byte for every registered t: name, on three
// 4 KB inputs: plain ASCII text (the fast-path case), URL/HTML/JS-encoded attack-like text, and
// binary bytes 0..255. Each cell runs for a bounded time (BENCH_MS, default 100 ms, after a
// warm-up), so the whole run takes a few seconds.
//   node dist/bench/transformations-bench.js [name...]
import { performance } from 'node:perf_hooks';
import { getTransformation, transformationNames } from '../src/transformations/index.js';

const CELL_MS = Number(process.env.BENCH_MS ?? 100);
const WARMUP_MS = Math.min(30, CELL_MS);
const SIZE = 4096;

function fill(unit: string): string {
  let s = unit;
  while (s.length < SIZE) s += unit;
  return s.slice(0, SIZE);
}

const INPUTS: ReadonlyArray<[string, string]> = [
  ['plain', fill('the quick brown fox jumps over the lazy dog 0123456789 ')],
  [
    'encoded',
    fill(
      "%3Cscript%3Ealert(1)%3C/script%3E+&lt;img src=x&gt; \\x41\\u0042 /*c*/ UNION  SELECT 0x41 ../../etc/passwd %u0041 ",
    ),
  ],
  ['binary', fill(Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join(''))],
];

function measure(fn: (s: string) => string, input: string): number {
  const deadline = (ms: number): number => performance.now() + ms;
  let sink = 0;
  for (const end = deadline(WARMUP_MS); performance.now() < end; ) sink += fn(input).length;
  let runs = 0;
  const t0 = performance.now();
  const end = t0 + CELL_MS;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) sink += fn(input).length;
    runs += 16;
  }
  const ns = ((performance.now() - t0) * 1e6) / (runs * input.length);
  if (sink === -1) console.log(sink); // keep the results alive
  return ns;
}

const only = process.argv.slice(2).map((s) => s.toLowerCase());
const names = transformationNames().filter((n) => only.length === 0 || only.includes(n.toLowerCase()));
const seen = new Set<unknown>();
console.log(`transformation          ${INPUTS.map(([n]) => n.padStart(10)).join(' ')}   (ns/byte, ${SIZE} B inputs)`);
for (const name of names) {
  const fn = getTransformation(name)!;
  if (seen.has(fn)) continue; // aliases
  seen.add(fn);
  const cells = INPUTS.map(([, input]) => measure(fn, input).toFixed(2).padStart(10));
  console.log(`${name.padEnd(23)} ${cells.join(' ')}`);
}
