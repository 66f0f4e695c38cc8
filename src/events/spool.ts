// On-disk spool of one webhook: append-only segment files plus a cursor file.
//
//   DIR/seg-<first seq, 16 digits>.log   records, one per line:
//                                         "<crc32 8 hex> <seq> <producedMs> <event json>\n"
//                                         (crc32 over everything after the first space)
//   DIR/cursor                            highest seq delivered (written via tmp + rename)
//   DIR/lock                              pid of the process using the spool
//
// A write torn by SIGKILL or power loss leaves a line without newline or with a bad checksum:
// it is skipped (counted as dropped, reason "corrupt") and never crashes recovery. After a
// restart writes go to a new segment, so a torn tail is never followed by good records in the
// same line. Segments are deleted once every record in them is delivered; when the spool
// would exceed max bytes, the oldest segment (drop_oldest) or the new event (drop_newest)
// is dropped and counted (reason "spool_full").
//
// File I/O is synchronous but off the Check path: writes are coalesced per event-loop turn
// into one write(2) to the page cache; fsync runs asynchronously (policy always | interval | never).
import {
  closeSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  close as closeFd,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { DropPolicy, EventQueue, QueueHooks, QueuedRecord } from './queue.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  onFull: DropPolicy;
}

interface Segment {
  file: string;
  firstSeq: number;
  lastSeq: number;
  /** Bytes on disk (for the current segment: written so far). */
  bytes: number;
  /** Valid records not delivered at recovery, plus records written in this run. */
  count: number;
  /** Records handed out from this segment. */
  taken: number;
}

const SEGMENT_NAME = /^seg-(\d{16})\.log$/;
const READ_CHUNK = 64 * 1024;

export class SpoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

/** Parses one record line (without the newline). null when torn or corrupt. */
export function parseRecord(line: Buffer): QueuedRecord | null {
  if (line.length < 14 || line[8] !== 0x20) return null;
  const expected = parseInt(line.toString('latin1', 0, 8), 16);
  const rest = line.subarray(9);
  if (!Number.isFinite(expected) || crc32(rest) >>> 0 !== expected) return null;
  const s1 = rest.indexOf(0x20);
  const s2 = s1 === -1 ? -1 : rest.indexOf(0x20, s1 + 1);
  if (s2 === -1) return null;
  const seq = Number(rest.toString('latin1', 0, s1));
  const producedMs = Number(rest.toString('latin1', s1 + 1, s2));
  if (!Number.isSafeInteger(seq) || !Number.isFinite(producedMs)) return null;
  return { seq, producedMs, json: rest.toString('utf8', s2 + 1) };
}

export function formatRecord(seq: number, producedMs: number, json: string): Buffer {
  const rest = Buffer.from(`${seq} ${producedMs} ${json}`, 'utf8');
  const out = Buffer.allocUnsafe(rest.length + 10);
  out.write((crc32(rest) >>> 0).toString(16).padStart(8, '0'), 0, 'latin1');
  out[8] = 0x20;
  rest.copy(out, 9);
  out[out.length - 1] = 0x0a;
  return out;
}

export class Spool implements EventQueue {
  readonly kind = 'spool' as const;
  onAvailable: (() => void) | null = null;

  private readonly segments: Segment[] = [];
  private fd = -1;
  private ackSeq = 0;
  private nextSeq = 1;
  private totalBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingCount = 0;
  private flushScheduled = false;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private closed = false;
  // Read position: segment index into `segments`, byte offset, and counters.
  private readIndex = 0;
  private readOffset = 0;
  private availableCount = 0;
  private availableBytesCount = 0;
  private inFlight = 0;
  private sinceMs = 0;

  private constructor(
    private readonly options: SpoolOptions,
    private readonly hooks: QueueHooks,
  ) {}

  /** Opens (creating if needed) and recovers the spool in options.dir. Throws SpoolError. */
  static open(options: SpoolOptions, hooks: QueueHooks): Spool {
    const spool = new Spool(options, hooks);
    spool.recover();
    return spool;
  }

  get available(): number {
    return this.availableCount;
  }
  get availableBytes(): number {
    return this.availableBytesCount;
  }
  get availableSinceMs(): number {
    return this.sinceMs;
  }
  get unacked(): number {
    return this.availableCount + this.inFlight + this.pendingCount;
  }
  /** Bytes the spool occupies on disk (plus what is about to be written). */
  get bytes(): number {
    return this.totalBytes + this.pendingBytes;
  }

  private recover(): void {
    const { dir } = this.options;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new SpoolError(`spool ${dir}: cannot create directory: ${(err as Error).message}`);
    }
    this.lock();
    try {
      const text = readFileSync(join(dir, 'cursor'), 'utf8').trim();
      if (/^\d+$/.test(text)) this.ackSeq = Number(text);
      else this.hooks.warn?.('spool cursor file unreadable, redelivering everything spooled', { dir, content: text.slice(0, 40) });
    } catch {
      // no cursor yet: nothing delivered
    }
    let maxSeq = this.ackSeq;
    let corrupt = 0;
    const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const file = join(dir, name);
      const data = readFileSync(file);
      let count = 0;
      let lastSeq = 0;
      let start = 0;
      while (start < data.length) {
        let nl = data.indexOf(0x0a, start);
        const torn = nl === -1;
        if (torn) nl = data.length;
        const rec = torn ? null : parseRecord(data.subarray(start, nl));
        if (rec === null) corrupt++;
        else {
          if (rec.seq > lastSeq) lastSeq = rec.seq;
          if (rec.seq > this.ackSeq) {
            count++;
            this.availableBytesCount += rec.json.length;
          }
        }
        start = nl + 1;
      }
      if (lastSeq > maxSeq) maxSeq = lastSeq;
      if (count === 0) {
        unlinkSync(file); // fully delivered (or nothing valid in it)
        continue;
      }
      this.segments.push({ file, firstSeq: Number(SEGMENT_NAME.exec(name)![1]), lastSeq, bytes: data.length, count, taken: 0 });
      this.totalBytes += data.length;
      this.availableCount += count;
    }
    if (corrupt > 0) {
      this.hooks.dropped('corrupt', corrupt);
      this.hooks.warn?.('spool records failed their checksum (torn write?) and were skipped', { dir, records: corrupt });
    }
    this.nextSeq = maxSeq + 1;
    this.sinceMs = 0; // recovered records are due at once
    this.openSegment();
    this.hooks.bytes?.(this.bytes);
    if (this.options.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => this.fsyncNow(), this.options.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
  }

  private lock(): void {
    const file = join(this.options.dir, 'lock');
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new SpoolError(`spool ${this.options.dir}: in use by process ${pid} (lock file ${file})`);
      }
    } catch (err) {
      if (err instanceof SpoolError) throw err;
    }
    writeFileSync(file, `${process.pid}\n`);
  }

  private openSegment(): void {
    const name = segmentName(this.nextSeq);
    const file = join(this.options.dir, name);
    try {
      this.fd = openSync(file, 'a');
    } catch (err) {
      throw new SpoolError(`spool ${this.options.dir}: cannot open segment ${name}: ${(err as Error).message}`);
    }
    this.segments.push({ file, firstSeq: this.nextSeq, lastSeq: this.nextSeq - 1, bytes: 0, count: 0, taken: 0 });
  }

  push(json: string, producedMs: number): void {
    if (this.closed) return;
    const seq = this.nextSeq;
    const record = formatRecord(seq, producedMs, json);
    if (!this.makeRoom(record.length)) {
      this.hooks.dropped('spool_full', 1);
      return;
    }
    this.nextSeq++;
    this.pending.push(record);
    this.pendingBytes += record.length;
    this.pendingCount++;
    // Keep segments near segment_bytes: write (and rotate) as soon as the current one is full.
    if (this.segments[this.segments.length - 1]!.bytes + this.pendingBytes >= this.options.segmentBytes) {
      this.flushWrites();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushWrites());
    }
  }

  /** Frees space for `size` more bytes by policy; false when the record must be dropped. */
  private makeRoom(size: number): boolean {
    const max = this.options.maxBytes;
    if (this.totalBytes + this.pendingBytes + size <= max) return true;
    if (this.options.onFull === 'drop_newest') return false;
    while (this.totalBytes + this.pendingBytes + size > max) {
      if (this.segments.length <= 1) {
        // Only the segment being written: start a new one so the old one can go.
        const current = this.segments[this.segments.length - 1];
        if (!current || current.bytes === 0) return false;
        this.flushWrites();
        this.rotate();
      }
      this.dropOldestSegment();
    }
    return true;
  }

  private dropOldestSegment(): void {
    const seg = this.segments.shift()!;
    const notTaken = Math.max(0, seg.count - seg.taken);
    if (notTaken > 0) this.hooks.dropped('spool_full', notTaken);
    this.availableCount = Math.max(0, this.availableCount - notTaken);
    if (this.readIndex === 0) {
      this.readOffset = 0;
      // Bytes of the dropped records are unknown without reading; recompute lazily.
      this.availableBytesCount = Math.max(0, this.availableBytesCount - Math.max(0, seg.bytes - this.readOffset));
    } else {
      this.readIndex--;
      this.availableBytesCount = Math.max(0, this.availableBytesCount - seg.bytes);
    }
    if (this.availableCount === 0) this.availableBytesCount = 0;
    this.totalBytes -= seg.bytes;
    tryUnlink(seg.file);
    this.hooks.bytes?.(this.bytes);
  }

  private rotate(): void {
    const fd = this.fd;
    this.fd = -1;
    if (this.options.fsync !== 'never') {
      fsync(fd, () => closeFd(fd, () => {}));
    } else {
      closeSync(fd);
    }
    this.openSegment();
  }

  flush(): void {
    this.flushWrites();
  }

  /** Writes the coalesced pending records (one write(2)). */
  private flushWrites(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.fd === -1) return;
    const records = this.pending;
    const count = this.pendingCount;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingCount = 0;
    const seg = this.segments[this.segments.length - 1]!;
    const buf = records.length === 1 ? records[0]! : Buffer.concat(records);
    try {
      writeAll(this.fd, buf);
    } catch (err) {
      this.hooks.dropped('spool_write_error', count);
      this.hooks.warn?.('spool write failed, events dropped', { dir: this.options.dir, err: (err as Error).message, events: count });
      return;
    }
    seg.bytes += buf.length;
    seg.lastSeq += count;
    seg.count += count;
    this.totalBytes += buf.length;
    let jsonBytes = 0;
    for (const r of records) jsonBytes += r.length - 40; // minus the record header, roughly: only steers batching
    if (this.availableCount === 0) this.sinceMs = Date.now();
    this.availableCount += count;
    this.availableBytesCount += jsonBytes;
    this.dirty = true;
    if (this.options.fsync === 'always') this.fsyncNow();
    if (seg.bytes >= this.options.segmentBytes) this.rotate();
    this.hooks.bytes?.(this.bytes);
    this.onAvailable?.();
  }

  private fsyncNow(): void {
    if (!this.dirty || this.fd === -1) return;
    this.dirty = false;
    fsync(this.fd, () => {});
  }

  take(maxEvents: number, maxBytes: number): QueuedRecord[] {
    const out: QueuedRecord[] = [];
    let size = 0;
    let chunk = READ_CHUNK;
    let full = false;
    while (!full && out.length < maxEvents && this.availableCount > out.length && this.readIndex < this.segments.length) {
      const seg = this.segments[this.readIndex]!;
      const isCurrent = this.readIndex === this.segments.length - 1;
      const remaining = seg.bytes - this.readOffset;
      if (remaining <= 0) {
        if (isCurrent) break;
        this.readIndex++;
        this.readOffset = 0;
        continue;
      }
      // Read about what the batch needs (records are ~1-2 KB), not max_bytes: a batch of 100
      // would otherwise copy a megabyte per take.
      const len = Math.min(remaining, chunk);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      try {
        const fd = openSync(seg.file, 'r');
        try {
          got = readSync(fd, buf, 0, len, this.readOffset);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        // The segment vanished or is unreadable: skip it rather than stall delivery.
        this.hooks.warn?.('spool segment unreadable, skipped', { file: seg.file, err: (err as Error).message });
        this.readIndex++;
        this.readOffset = 0;
        continue;
      }
      let start = 0;
      while (out.length < maxEvents) {
        const nl = buf.indexOf(0x0a, start);
        if (nl === -1 || nl >= got) break;
        const rec = parseRecord(buf.subarray(start, nl));
        if (rec !== null && rec.seq > this.ackSeq) {
          if (out.length > 0 && size + rec.json.length > maxBytes) {
            full = true;
            break;
          }
          out.push(rec);
          size += rec.json.length;
          seg.taken++;
        }
        start = nl + 1;
      }
      this.readOffset += start;
      if (start === 0 && !full && out.length < maxEvents) {
        if (got >= remaining) {
          // No newline up to the end: a torn tail of a recovered segment (counted at recovery).
          if (isCurrent) break;
          this.readIndex++;
          this.readOffset = 0;
        } else chunk *= 2; // one record larger than the chunk
      }
    }
    this.availableCount = Math.max(0, this.availableCount - out.length);
    this.availableBytesCount = this.availableCount === 0 ? 0 : Math.max(0, this.availableBytesCount - size);
    if (out.length === 0 && this.availableCount > 0) {
      // Nothing readable although records were counted (corrupt after recovery): self-correct.
      this.availableCount = 0;
      this.availableBytesCount = 0;
    }
    this.inFlight += out.length;
    return out;
  }

  ack(records: QueuedRecord[]): void {
    if (records.length === 0) return;
    this.inFlight = Math.max(0, this.inFlight - records.length);
    const seq = records[records.length - 1]!.seq;
    if (seq <= this.ackSeq) return;
    this.ackSeq = seq;
    this.writeCursor();
    // Delete segments that are fully read and fully delivered (never the one being written).
    while (this.segments.length > 1 && this.readIndex > 0 && this.segments[0]!.lastSeq <= this.ackSeq) {
      const seg = this.segments.shift()!;
      this.readIndex--;
      this.totalBytes -= seg.bytes;
      tryUnlink(seg.file);
    }
    this.hooks.bytes?.(this.bytes);
  }

  private writeCursor(): void {
    const file = join(this.options.dir, 'cursor');
    const tmp = file + '.tmp';
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, `${this.ackSeq}\n`);
        if (this.options.fsync === 'always') fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (err) {
      // Worst case after a crash: redelivery of what was delivered (consumers dedup by id).
      this.hooks.warn?.('spool cursor write failed', { dir: this.options.dir, err: (err as Error).message });
    }
  }

  close(): void {
    if (this.closed) return;
    this.flushWrites();
    this.closed = true;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.fd !== -1) {
      try {
        if (this.options.fsync !== 'never') fsyncSync(this.fd);
      } catch {
        // best effort
      }
      closeSync(this.fd);
      this.fd = -1;
    }
    // Everything delivered: no segment needs to survive (nor an empty current one).
    const last = this.segments[this.segments.length - 1];
    if (this.unacked === 0) for (const seg of this.segments) tryUnlink(seg.file);
    else if (last && last.bytes === 0) tryUnlink(last.file);
    tryUnlink(join(this.options.dir, 'lock'));
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function tryUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
