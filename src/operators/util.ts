// Helpers shared by operator modules.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Operator, OperatorInit, OperatorTx } from './types.js';

/**
 * Builds an operator whose argument is pre-processed by `prepare` (a compiled regex, an automaton,
 * a parsed list...). A static argument is prepared once, here, and `prepare` errors propagate (the
 * rule fails to load). A macro argument (%{...}) is expanded on every evaluation and prepared
 * through a small cache keyed by the expanded text; an expansion that cannot be prepared simply
 * does not match (as a PCRE compile failure at run time in ModSecurity).
 */
export function preparedOperator<P>(
  init: OperatorInit,
  prepare: (arg: string) => P,
  evaluate: (prepared: P, tx: OperatorTx, input: string) => boolean,
): Operator {
  if (init.expand === null) {
    const prepared = prepare(init.arg);
    return { evaluate: (tx, input) => evaluate(prepared, tx, input) };
  }
  const expand = init.expand;
  const cached = memoize((arg: string): P | null => {
    try {
      return prepare(arg);
    } catch {
      return null;
    }
  });
  return {
    evaluate(tx, input) {
      const prepared = cached(expand(tx));
      return prepared !== null && evaluate(prepared, tx, input);
    },
  };
}

/** Bounded memoization (an insertion-ordered Map used as a small LRU). */
export function memoize<P>(fn: (key: string) => P, max = 64): (key: string) => P {
  const cache = new Map<string, P>();
  return (key) => {
    if (cache.has(key)) {
      const hit = cache.get(key) as P;
      cache.delete(key); // refresh recency
      cache.set(key, hit);
      return hit;
    }
    const v = fn(key);
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(key, v);
    return v;
  };
}

/** C isspace() in the C locale. */
export function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * strtol/strtoll prefix parse: leading isspace, optional sign, decimal digits. Returns the value
 * (a number when exactly representable, else a bigint saturated like strtoll at -2^63 / 2^63-1),
 * or null when there are no digits.
 */
export function parseCInteger(s: string): number | bigint | null {
  const n = s.length;
  let i = 0;
  while (i < n && isCSpace(s.charCodeAt(i))) i++;
  let neg = false;
  const sign = s.charCodeAt(i);
  if (sign === 0x2b || sign === 0x2d) {
    neg = sign === 0x2d;
    i++;
  }
  const start = i;
  let v = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    i++;
  }
  if (i === start) return null;
  if (i - start <= 15) return neg ? -v : v; // exact in a double
  let big = BigInt(s.slice(start, i));
  if (neg) big = -big;
  if (big <= MAX_SAFE && big >= -MAX_SAFE) return Number(big); // e.g. leading zeros
  if (big > INT64_MAX) return INT64_MAX;
  if (big < INT64_MIN) return INT64_MIN;
  return big;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MAX = 0x7fffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;

/** C atoll(): the prefix value, 0 without digits, saturating at the int64 bounds. */
export function atoll(s: string): number | bigint {
  return parseCInteger(s) ?? 0;
}

/** std::stoi() with ModSecurity's catch-all: 0 when there are no digits or the value overflows int. */
export function stoiOrZero(s: string): number {
  const v = parseCInteger(s);
  if (v === null || typeof v === 'bigint' || v > 2147483647 || v < -2147483648) return 0;
  return v;
}

/**
 * Resolves a data file name the way ModSecurity does: relative to the directory of the rule file.
 * Remote (https://) resources are not supported.
 */
export function resolveDataFile(baseDir: string, name: string): string {
  if (/^https?:\/\//i.test(name)) throw new Error(`remote data files are not supported: '${name}'`);
  return isAbsolute(name) ? name : resolve(baseDir, name);
}

/** A data file as a byte string (latin1: one char per byte, like the rule files). */
export function readDataFile(baseDir: string, name: string): string {
  const path = resolveDataFile(baseDir, name);
  try {
    return readFileSync(path, 'latin1');
  } catch (e) {
    throw new Error(`cannot read data file '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The names of the data files in an operator argument (space separated, as ModSecurity v3). */
export function dataFileNames(arg: string): string[] {
  const names = arg.split(/[ \t]+/).filter((s) => s.length > 0);
  if (names.length === 0) throw new Error('missing data file name');
  return names;
}
