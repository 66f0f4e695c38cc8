// When a transformation is certainly an identity: each transformation may declare the char classes
// (a bit mask) without which it returns its input unchanged, and one pass over a string gives the
// classes it holds (its signature). A pipeline whose transformations' masks miss a string's
// signature leaves the string as it is, so the engine skips it without calling anything. Every
// signature holds ALWAYS, so a transformation declared ALWAYS (or not declared) always runs.
// test/transformation-identity.test.ts checks each declaration against its transformation.
import type { Transformation } from './types.js';
import { compressWhitespace, removeWhitespace, trim, trimLeft, trimRight } from './whitespace.js';
import { lowercase, uppercase } from './case.js';
import { urlDecode, urlDecodeUni } from './url.js';
import { htmlEntityDecode } from './html-entity.js';
import { jsDecode } from './js-decode.js';
import { cssDecode } from './css-decode.js';
import { escapeSeqDecode } from './escape-seq.js';
import { utf8toUnicode } from './utf8-to-unicode.js';
import { removeNulls, replaceNulls } from './nulls.js';
import { normalizePath, normalizePathWin } from './path.js';
import { removeComments, removeCommentsChar, replaceComments } from './comments.js';
import { cmdLine } from './cmd-line.js';
import { none } from './misc.js';

export const UPPER = 1 << 0; // A-Z
export const PERCENT = 1 << 1;
export const PLUS = 1 << 2;
export const AMP = 1 << 3;
export const BACKSLASH = 1 << 4;
export const NON_ASCII = 1 << 5; // 0x80-0xff (and any char above, which no byte string holds)
export const NUL = 1 << 6;
export const SPACE = 1 << 7; // ' '
export const OTHER_SPACE = 1 << 8; // \t \n \v \f \r
export const SPACE_RUN = 1 << 9; // two isspace() chars in a row
export const SPACE_BEFORE_SLASH_PAREN = 1 << 10; // ' ' followed by '/' or '('
export const DOT = 1 << 11;
export const SLASH_SLASH = 1 << 12; // "//"
export const STAR = 1 << 13;
export const DASH_DASH = 1 << 14; // "--"
export const HASH = 1 << 15;
export const QUOTE = 1 << 16; // " '
export const CARET = 1 << 17;
export const COMMA_SEMICOLON = 1 << 18;
/** In every signature: a transformation with this mask is never skipped. */
export const ALWAYS = 1 << 30;

const CLASS = new Int32Array(256);
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UPPER;
for (let c = 0x80; c <= 0xff; c++) CLASS[c] = NON_ASCII;
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d]) CLASS[c] = OTHER_SPACE;
CLASS[0x20] = SPACE;
CLASS[0x25] = PERCENT;
CLASS[0x2b] = PLUS;
CLASS[0x26] = AMP;
CLASS[0x5c] = BACKSLASH;
CLASS[0x00] = NUL;
CLASS[0x2e] = DOT;
CLASS[0x2a] = STAR;
CLASS[0x23] = HASH;
CLASS[0x22] = QUOTE;
CLASS[0x27] = QUOTE;
CLASS[0x5e] = CARET;
CLASS[0x2c] = COMMA_SEMICOLON;
CLASS[0x3b] = COMMA_SEMICOLON;

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** The char classes `s` holds, ALWAYS included. */
export function signature(s: string): number {
  let sig = ALWAYS;
  let prev = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      sig |= NON_ASCII;
      prev = c;
      continue;
    }
    sig |= CLASS[c]!;
    if (prev === 0x2f && c === 0x2f) sig |= SLASH_SLASH;
    else if (prev === 0x2d && c === 0x2d) sig |= DASH_DASH;
    else if (prev === 0x20 && (c === 0x2f || c === 0x28)) sig |= SPACE_BEFORE_SLASH_PAREN;
    if (isSpace(c) && prev >= 0 && isSpace(prev)) sig |= SPACE_RUN;
    prev = c;
  }
  return sig;
}

const WHITESPACE = SPACE | OTHER_SPACE;

/** Per transformation: the classes without which it is the identity (see each one's fast path). */
const UNLESS = new Map<Transformation, number>([
  [none, 0],
  [lowercase, UPPER],
  [urlDecode, PERCENT | PLUS],
  [urlDecodeUni, PERCENT | PLUS],
  [htmlEntityDecode, AMP],
  [jsDecode, BACKSLASH],
  [cssDecode, BACKSLASH],
  [escapeSeqDecode, BACKSLASH],
  [utf8toUnicode, NON_ASCII | NUL],
  [removeNulls, NUL],
  [replaceNulls, NUL],
  [compressWhitespace, OTHER_SPACE | SPACE_RUN],
  [removeWhitespace, WHITESPACE | NON_ASCII], // NBSP 0xa0 and 0xc2 are removed too
  [trim, WHITESPACE],
  [trimLeft, WHITESPACE],
  [trimRight, WHITESPACE],
  [normalizePath, DOT | SLASH_SLASH],
  [normalizePathWin, DOT | SLASH_SLASH | BACKSLASH],
  [replaceComments, STAR],
  [removeComments, STAR | DASH_DASH | HASH],
  [removeCommentsChar, STAR | DASH_DASH | HASH],
  [cmdLine, UPPER | QUOTE | BACKSLASH | CARET | COMMA_SEMICOLON | OTHER_SPACE | SPACE_RUN | SPACE_BEFORE_SLASH_PAREN],
]);

/** The classes without which `fn` is the identity; ALWAYS for a transformation that declares none. */
export function identityUnless(fn: Transformation): number {
  return UNLESS.get(fn) ?? ALWAYS;
}

/**
 * Whether `fn` changes nothing but the case of ASCII letters (C-locale tolower/toupper): its output
 * then reads the same as its input to anything that folds ASCII case, such as the literal
 * prefilter's automaton.
 */
export function changesAsciiCaseOnly(fn: Transformation): boolean {
  return fn === lowercase || fn === uppercase;
}

/** The declared transformations (for the test that checks each declaration). */
export function declaredIdentities(): ReadonlyMap<Transformation, number> {
  return UNLESS;
}
