// Whitespace transformations. "Whitespace" is C isspace() in the C locale (\t \n \v \f \r space);
// removeWhitespace additionally drops 0xA0 (NBSP) and 0xC2 (lead byte of UTF-8 NBSP), as v3 does.
import { bufToString, copyPrefix, isSpace, outBuffer } from './bytes.js';

/** Runs of whitespace become a single space. */
export function compressWhitespace(input: string): string {
  const n = input.length;
  // Fast path: unchanged unless some whitespace is not a lone ' '.
  let i = 0;
  for (; i < n; i++) {
    const c = input.charCodeAt(i);
    if (isSpace(c) && (c !== 0x20 || (i + 1 < n && isSpace(input.charCodeAt(i + 1))))) break;
  }
  if (i === n) return input;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, i);
  let inSpace = false;
  for (; i < n; i++) {
    const c = input.charCodeAt(i);
    if (isSpace(c)) {
      if (!inSpace) out[d++] = 0x20;
      inSpace = true;
    } else {
      out[d++] = c;
      inSpace = false;
    }
  }
  return bufToString(out, d);
}

function isRemovable(c: number): boolean {
  return isSpace(c) || c === 0xa0 || c === 0xc2;
}

export function removeWhitespace(input: string): string {
  const n = input.length;
  let i = 0;
  while (i < n && !isRemovable(input.charCodeAt(i))) i++;
  if (i === n) return input;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, i);
  for (; i < n; i++) {
    const c = input.charCodeAt(i);
    if (!isRemovable(c)) out[d++] = c;
  }
  return bufToString(out, d);
}

function leftEnd(input: string): number {
  let i = 0;
  while (i < input.length && isSpace(input.charCodeAt(i))) i++;
  return i;
}

function rightEnd(input: string, from: number): number {
  let e = input.length;
  while (e > from && isSpace(input.charCodeAt(e - 1))) e--;
  return e;
}

export function trimLeft(input: string): string {
  const s = leftEnd(input);
  return s === 0 ? input : input.slice(s);
}

export function trimRight(input: string): string {
  const e = rightEnd(input, 0);
  return e === input.length ? input : input.slice(0, e);
}

export function trim(input: string): string {
  const s = leftEnd(input);
  const e = rightEnd(input, s);
  return s === 0 && e === input.length ? input : input.slice(s, e);
}
