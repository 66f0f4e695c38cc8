// The JSON lines a child process writes to a stream (pino logs, Envoy's JSON access log), kept in
// order, and waiting for one that matches. Shared by the server, Envoy and pod process harnesses.
import type { Readable } from 'node:stream';

export class JsonLines<L> {
  readonly lines: L[] = [];
  private pending = '';
  private readonly waiters: Array<{ pred: (l: L) => boolean; resolve: (l: L) => void }> = [];

  /** `unparsed` makes the entry kept for a line that is not JSON. */
  constructor(stream: Readable, private readonly unparsed: (text: string) => L) {
    stream.setEncoding('utf8').on('data', (chunk: string) => this.feed(chunk));
  }

  private feed(chunk: string): void {
    this.pending += chunk;
    let nl;
    while ((nl = this.pending.indexOf('\n')) !== -1) {
      const text = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (text === '') continue;
      let line: L;
      try {
        line = JSON.parse(text) as L;
      } catch {
        line = this.unparsed(text);
      }
      this.lines.push(line);
      const waiters = this.waiters;
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.pred(line)) waiters.splice(i, 1)[0]!.resolve(line);
    }
  }

  /** The first line, seen or to come, that matches; rejects after `timeoutMs` with `describe()` appended. */
  waitFor(pred: (l: L) => boolean, timeoutMs: number, describe: () => string): Promise<L> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { pred, resolve: (l: L) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(new Error(`line not seen within ${timeoutMs} ms; ${describe()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}
