// startup-memory.ts: the one memory-reducing GC `sidewall serve` runs after its startup compile.
// In-process: it must shrink a young generation grown by surviving garbage and must not leave `gc`
// on the global object. Over a real process: right after /readyz says ready, the server's young
// generation is back to its minimum (without the collection it stays at 16-32 MB committed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { releaseStartupGarbage } from '../src/server/startup-memory.js';
import { httpGet, startServer } from '../bench/lib/server-process.js';
import { REPO_ROOT } from '../bench/lib/shared.js';

const MB = 2 ** 20;
const newSpaceSize = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('releaseStartupGarbage shrinks a grown young generation and leaves no global gc', () => {
  // Objects that survive scavenges make V8 grow the young generation; then they become garbage.
  let keep: unknown[] = [];
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 20_000; i++) keep.push({ round, i, s: `value ${i}` });
    if (keep.length > 200_000) keep = keep.slice(100_000);
  }
  keep = [];
  const grown = newSpaceSize();
  const out = releaseStartupGarbage();
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
