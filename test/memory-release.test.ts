// memory-release.ts: the one memory-reducing GC `sidewall serve` runs after its startup compile.
// In-process: it must shrink a young generation grown by surviving garbage and must not leave `gc`
// on the global object. Over a real process: right after /readyz says ready, the server's young
// generation is back to its minimum (without the collection it stays at 16-32 MB committed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { IdleMemoryRelease, releaseGarbage, type ReleaseOutcome } from '../src/server/memory-release.js';
import { httpGet, startServer } from '../bench/lib/server-process.js';
import { REPO_ROOT } from '../bench/lib/shared.js';

const MB = 2 ** 20;
const newSpaceSize = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('releaseGarbage shrinks a grown young generation and leaves no global gc', () => {
  // Objects that survive scavenges make V8 grow the young generation; then they become garbage.
  let keep: unknown[] = [];
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 20_000; i++) keep.push({ round, i, s: `value ${i}` });
    if (keep.length > 200_000) keep = keep.slice(100_000);
  }
  keep = [];
  const grown = newSpaceSize();
  const out = releaseGarbage();
  assert.ok(out !== null, 'Node 22/24 offer the gc extension');
  assert.ok(out.ms >= 0);
  assert.ok(out.heapAfter < out.heapBefore, `heap committed ${out.heapBefore} -> ${out.heapAfter}`);
  assert.ok(newSpaceSize() < grown || grown <= 2 * MB, `new space ${grown} -> ${newSpaceSize()}`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});

test('sidewall serve reports ready with its young generation released', async () => {
  const server = await startServer({ rulesFile: join(REPO_ROOT, 'rules', 'main.conf'), mode: 'block' });
  try {
    const metrics = await httpGet(server.adminPort, '/metrics');
    const m = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(metrics.body);
    assert.ok(m !== null, 'default process metrics include the heap spaces');
    assert.ok(Number(m[1]) <= 4 * MB, `new space committed right after ready: ${(Number(m[1]) / MB).toFixed(1)} MB`);
  } finally {
    await server.stop();
  }
});

test('IdleMemoryRelease: releases in an idle interval once the heap grew, once, and never while busy', () => {
  let cpu = 0; // µs
  let heap = 20 * MB;
  const released: ReleaseOutcome[] = [];
  const watcher = new IdleMemoryRelease({
    intervalMs: 5000,
    cpuMicros: () => cpu,
    heapBytes: () => heap,
    release: () => {
      const outcome = { ms: 30, heapBefore: heap, heapAfter: 22 * MB };
      heap = 22 * MB;
      return outcome;
    },
    onRelease: (o) => released.push(o),
  });
  // Idle, heap not grown: nothing to do.
  assert.equal(watcher.tick(), false);
  // Busy interval (1 s of CPU in 5 s) with a grown heap: not while serving.
  heap = 60 * MB;
  cpu += 1_000_000;
  assert.equal(watcher.tick(), false);
  // Next interval idle (10 ms of CPU): release.
  cpu += 10_000;
  assert.equal(watcher.tick(), true);
  assert.deepEqual(released.map((r) => [r.heapBefore, r.heapAfter]), [[60 * MB, 22 * MB]]);
  // Still idle, heap where the release left it: no second collection.
  cpu += 5_000;
  assert.equal(watcher.tick(), false);
  assert.equal(watcher.tick(), false);
  // Grown by less than the threshold (8 MB): still nothing.
  heap = 29 * MB;
  assert.equal(watcher.tick(), false);
  heap = 31 * MB;
  assert.equal(watcher.tick(), true);
  assert.equal(released.length, 2);
});

test('IdleMemoryRelease answers false when the runtime has no gc function', () => {
  let calls = 0;
  const watcher = new IdleMemoryRelease({ cpuMicros: () => 0, heapBytes: () => (calls === 0 ? 0 : 100 * MB), release: () => (calls++, null) });
  calls = 1;
  assert.equal(watcher.tick(), false);
  assert.equal(watcher.tick(), false);
  assert.equal(calls, 3, 'asked for a release twice, got null both times');
});
