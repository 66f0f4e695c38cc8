// Reload benchmark: how long compiling OWASP CRS v4 holds the event loop, in one go (what a
// reload would cost without slicing) and sliced (Waf.compileSliced, what live reload does).
// Measured in-process with perf_hooks.monitorEventLoopDelay (1 ms resolution) around each
// compile; the ratio sliced/unsliced of the worst stall is the figure to watch.
//
//   node dist/bench/reload-bench.js [--runs N] [--slice-ms MS]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readDirectives } from '../src/seclang/reader.js';
import { Waf, type SlicedCompileStats } from '../src/engine/waf.js';
import { writeEntryConf } from './lib/crs-config.js';
import { sharedPath } from './lib/shared.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'slice-ms': { type: 'string', default: '8' } } });
const runs = Number(values.runs);
const sliceMs = Number(values['slice-ms']);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-reload-bench-'));
  try {
    const directives = readDirectives(writeEntryConf(dir, { crsDir: sharedPath('crs'), testSetup: false }));
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const result = { whole: { wall: [] as number[], stall: [] as number[] }, sliced: { wall: [] as number[], stall: [] as number[], slice: [] as number[] } };
    for (let i = 0; i < runs + 1; i++) {
      // one go
      await tick();
      histogram.reset();
      let t = performance.now();
      Waf.fromDirectives(directives, { mode: 'block' });
      const wholeWall = performance.now() - t;
      await tick();
      const wholeStall = histogram.max / 1e6;
      // sliced
      histogram.reset();
      const stats: SlicedCompileStats = { longestSliceMs: 0, slices: 0 };
      t = performance.now();
      await Waf.compileSliced(directives, { mode: 'block' }, sliceMs, stats);
      const slicedWall = performance.now() - t;
      await tick();
      const slicedStall = histogram.max / 1e6;
      if (i === 0) continue; // warm-up
      result.whole.wall.push(wholeWall);
      result.whole.stall.push(Math.max(wholeStall, wholeWall));
      result.sliced.wall.push(slicedWall);
      result.sliced.stall.push(slicedStall);
      result.sliced.slice.push(stats.longestSliceMs);
    }
    histogram.disable();
    const w = result.whole;
    const s = result.sliced;
    console.log(`CRS v4 compile (${directives.length} directives), ${runs} runs, medians; load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(`  in one go : wall ${median(w.wall).toFixed(0)} ms, event-loop stall ${median(w.stall).toFixed(0)} ms (max ${Math.max(...w.stall).toFixed(0)})`);
    console.log(`  sliced    : wall ${median(s.wall).toFixed(0)} ms, event-loop stall ${median(s.stall).toFixed(0)} ms (max ${Math.max(...s.stall).toFixed(0)}), longest slice ${median(s.slice).toFixed(0)} ms`);
    console.log(`  stall ratio sliced/one go: ${(median(s.stall) / median(w.stall)).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
