// Reads security events for the recommender from what Sidewall already writes:
//   - the receiver's NDJSON (`sidewall events receive --out`): one event per line;
//   - a webhook spool directory (src/events/spool.ts): seg-*.log records "<crc> <seq> <ms> <json>";
//   - log lines (pino JSON, e.g. `kubectl logs` saved to files): the event under `security_event`;
//   - CloudEvents envelopes ({specversion, data}) in any of these.
// A path may be a file or a directory (read recursively; names starting with '.' skipped).
// Lines that are not events (other log lines) are skipped silently; lines that look like events
// but do not parse (torn, bad checksum, wrong shape) are counted and named, never fatal.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseRecord } from '../events/spool.js';
import { EVENT_SCHEMA, type SecurityEvent } from '../events/schema.js';

export interface ReadProblem {
  /** file:line */
  where: string;
  problem: string;
}

export interface ReadResult {
  events: SecurityEvent[];
  /** Lines read that were not security events (e.g. other log lines). */
  skipped: number;
  problems: ReadProblem[];
  files: number;
}

const MAX_PROBLEMS = 100;
const SPOOL_LINE = /^[0-9a-f]{8} \d+ \d+ /;

/** The event a JSON document carries, or null (not an event), or a string (why it is broken). */
function eventOf(doc: unknown): SecurityEvent | null | string {
  if (typeof doc !== 'object' || doc === null) return null;
  const o = doc as Record<string, unknown>;
  if (o.specversion !== undefined && typeof o.data === 'object') return eventOf(o.data);
  if (typeof o.security_event === 'object' && o.security_event !== null) return eventOf(o.security_event);
  if (o.schema !== EVENT_SCHEMA) return null;
  if (typeof o.time !== 'string' || !Array.isArray(o.rules) || typeof o.request !== 'object' || o.request === null) {
    return 'security event without time, request or rules';
  }
  return o as unknown as SecurityEvent;
}

function readText(path: string, out: ReadResult): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    addProblem(out, path, `cannot read: ${(err as Error).message}`);
    return;
  }
  out.files++;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `${path}:${i + 1}`;
    if (SPOOL_LINE.test(line)) {
      const record = parseRecord(Buffer.from(line, 'utf8'));
      if (record === null) {
        addProblem(out, where, 'spool record with a bad checksum (torn write?)');
        continue;
      }
      line = record.json;
    }
    if (line[0] !== '{') {
      out.skipped++;
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      // A torn last line of a file being written is expected; anything else is worth naming.
      addProblem(out, where, 'not valid JSON');
      continue;
    }
    const event = eventOf(doc);
    if (event === null) out.skipped++;
    else if (typeof event === 'string') addProblem(out, where, event);
    else out.events.push(event);
  }
}

function addProblem(out: ReadResult, where: string, problem: string): void {
  if (out.problems.length < MAX_PROBLEMS) out.problems.push({ where, problem });
}

/** What one file held when last read; reused while its size and mtime are unchanged. */
export interface CachedFile {
  mtimeMs: number;
  size: number;
  result: ReadResult;
}

/** path → CachedFile; pass the same map to repeated readEvents calls (the controller's passes). */
export type ReadCache = Map<string, CachedFile>;

function merge(out: ReadResult, part: ReadResult): void {
  for (const e of part.events) out.events.push(e);
  out.skipped += part.skipped;
  out.files += part.files;
  for (const p of part.problems) addProblem(out, p.where, p.problem);
}

function walk(path: string, out: ReadResult, cache: ReadCache | null, seen: Set<string>): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    addProblem(out, path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message);
    return;
  }
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.') || name === 'cursor' || name === 'lock') continue; // spool bookkeeping
      walk(join(path, name), out, cache, seen);
    }
  } else if (st.isFile()) {
    if (cache === null) return readText(path, out);
    seen.add(path);
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return merge(out, hit.result);
    const part: ReadResult = { events: [], skipped: 0, problems: [], files: 0 };
    readText(path, part);
    cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, result: part });
    merge(out, part);
  }
}

/**
 * Reads every event under `paths`. Never throws for bad input: problems are returned. With `cache`,
 * files whose size and mtime did not change since the last call are not read again, and files that
 * are gone are forgotten.
 */
export function readEvents(paths: readonly string[], cache: ReadCache | null = null): ReadResult {
  const out: ReadResult = { events: [], skipped: 0, problems: [], files: 0 };
  const seen = new Set<string>();
  for (const p of paths) walk(p, out, cache, seen);
  if (cache !== null) for (const k of [...cache.keys()]) if (!seen.has(k)) cache.delete(k);
  return out;
}
