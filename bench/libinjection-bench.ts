// Benchmark of the libinjection port: ns per input byte of detectSQLi and detectXSS on benign and
// attack inputs of 50 B, 1 KB and 10 KB. Each cell runs for a bounded time (BENCH_MS, default
// 200 ms, split in 10 rounds, after a warm-up of every cell), so the whole run takes a few seconds.
//   node dist/bench/libinjection-bench.js
import { performance } from 'node:perf_hooks';
import { detectSQLi, detectXSS } from '../src/libinjection/index.js';

const CELL_MS = Number(process.env.BENCH_MS ?? 200);
const WARMUP_MS = Math.min(50, CELL_MS);
const ROUNDS = 10;
const SIZES: readonly [string, number][] = [
  ['50 B', 50],
  ['1 KB', 1024],
  ['10 KB', 10240],
];

/** Repeats `unit` (separated by `sep`) until `size` bytes, then cuts to exactly `size`. */
function fill(unit: string, size: number, sep = ' '): string {
  let s = unit;
  while (s.length < size) s += sep + unit;
  return s.substring(0, size);
}

// Benign: free text and form-like data, with the odd apostrophe, digits and punctuation.
const BENIGN_TEXT =
  "Hello, I'd like to order 3 items (size M) for delivery on 2024-05-17 to 12 Baker Street; " +
  'please call me at +44 20 7946 0958 or mail jane.doe@example.com - thanks!';
// Attacks: a classic UNION-based SQLi, and an XSS event-handler payload.
const SQLI_ATTACK = "1' UNION SELECT username, password FROM users WHERE '1'='1' -- ";
const XSS_ATTACK = '"><img src=x onerror=alert(document.cookie)>';

interface Case {
  fn: 'detectSQLi' | 'detectXSS';
  kind: 'benign' | 'attack';
  sizeName: string;
  input: string;
}

const cases: Case[] = [];
for (const fn of ['detectSQLi', 'detectXSS'] as const) {
  for (const kind of ['benign', 'attack'] as const) {
    for (const [sizeName, size] of SIZES) {
      // attacks are put at the end of benign text: the detector has to get there
      const input =
        kind === 'benign'
          ? fill(BENIGN_TEXT, size)
          : fn === 'detectSQLi'
            ? fill(SQLI_ATTACK, size, '')
            : (fill(BENIGN_TEXT, size - XSS_ATTACK.length) + XSS_ATTACK).substring(0, size);
      cases.push({ fn, kind, sizeName, input });
    }
  }
}

/** Calls f for about `ms` milliseconds; returns ns per call. */
function timeFor(ms: number, f: () => unknown): number {
  let calls = 0;
  let batch = 1;
  const start = performance.now();
  const deadline = start + ms;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) f();
    calls += batch;
    now = performance.now();
    if (batch < 1 << 16 && now - start < ms / 8) batch *= 2;
  }
  return ((now - start) * 1e6) / calls;
}

let sink = 0;
const fns = cases.map((c) =>
  c.fn === 'detectSQLi'
    ? () => {
        if (detectSQLi(c.input).isSqli) sink++;
      }
    : () => {
        if (detectXSS(c.input)) sink++;
      },
);
// warm up every case first, so the JIT has seen all shapes before anything is timed
for (const f of fns) timeFor(WARMUP_MS, f);

const rows: string[][] = [];
cases.forEach((c, idx) => {
  const f = fns[idx]!;
  const detected = c.fn === 'detectSQLi' ? detectSQLi(c.input).isSqli : detectXSS(c.input);
  // ROUNDS short rounds: the median is the figure, the best round shows the floor when the machine is busy
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) samples.push(timeFor(CELL_MS / ROUNDS, f));
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1]!;
  const best = samples[0]!;
  rows.push([
    c.fn,
    c.kind,
    c.sizeName,
    String(c.input.length),
    detected ? 'yes' : 'no',
    median.toFixed(0),
    (median / c.input.length).toFixed(2),
    (best / c.input.length).toFixed(2),
  ]);
});

const header = ['function', 'input', 'size', 'bytes', 'detected', 'ns/call', 'ns/byte', 'best ns/byte'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]): string =>
  '| ' + r.map((v, i) => (i >= 3 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ') + ' |';
console.log(
  `libinjection port benchmark (node ${process.version}; per cell ${ROUNDS} rounds, ${CELL_MS} ms in all; median and best round)`,
);
console.log(line(header));
console.log('|' + widths.map((w, i) => (i >= 3 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
for (const r of rows) console.log(line(r));
if (sink < 0) console.log(sink);
