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
    // The loop burns a fixed amount of CPU (not of wall time), so a loaded machine only makes it slower.
    const script = 'process.stdout.write("GO\\n"); const s = process.cpuUsage(); while (process.cpuUsage(s).user < 400000) {} ' +
      'process.stdout.write("DONE\\n"); setTimeout(() => {}, 30000)';
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      const seen = (word: string) =>
        new Promise<void>((resolve, reject) => {
          const onData = (d: Buffer) => {
            out += d.toString();
            if (out.includes(word)) {
              child.stdout!.off('data', onData);
              resolve();
            }
          };
          child.stdout!.on('data', onData);
          onData(Buffer.alloc(0));
          child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
        });
      await seen('GO');
      const before = threadCpu(child.pid!);
      await seen('DONE');
      const d = splitDiff(before, threadCpu(child.pid!));
      assert.ok(d.main >= 0.3, `main thread CPU over a 0.4 s busy loop: ${d.main} s`);
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
