// bench/lib/thread-cpu.ts: the per-thread CPU split the gRPC cost bench reports, read from the
// real /proc of real processes (this one, and a child that burns CPU on its main thread).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { splitDiff, splitTotal, threadCpu, threadGroup } from '../bench/lib/thread-cpu.js';

describe('thread-cpu', () => {
  it('classifies the main thread, V8 platform workers, libuv pool threads and the rest', () => {
    assert.equal(threadGroup(100, 100, 'node'), 'main');
    assert.equal(threadGroup(100, 100, 'sidewall'), 'main');
    assert.equal(threadGroup(100, 101, 'node'), 'v8-workers');
    assert.equal(threadGroup(100, 102, 'libuv-worker'), 'libuv');
    assert.equal(threadGroup(100, 103, 'DelayedTaskSche'), 'other');
  });

  it('counts a busy loop on the main thread of a real child process as main-thread CPU', async () => {
    const child = spawn(process.execPath, ['-e', 'process.stdout.write("GO\\n"); const e = Date.now() + 600; while (Date.now() < e) {} setTimeout(() => {}, 5000)'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      const before = threadCpu(child.pid!);
      await new Promise((r) => setTimeout(r, 800)); // the loop has ended by then
      const d = splitDiff(before, threadCpu(child.pid!));
      assert.ok(d.main >= 0.3, `main thread CPU over the busy loop: ${d.main} s`);
      assert.ok(d.main > d['v8-workers'] + d.libuv + d.other, `the busy loop is on the main thread: ${JSON.stringify(d)}`);
      assert.ok(Math.abs(splitTotal(d) - (d.main + d['v8-workers'] + d.libuv + d.other)) < 1e-9);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reads this process: every group is a non-negative number and the main thread has run', () => {
    const s = threadCpu(process.pid);
    for (const v of Object.values(s)) assert.ok(Number.isFinite(v) && v >= 0);
    assert.ok(s.main > 0);
  });
});
