// libinjection SQLi detection, reimplemented in TypeScript from libinjection's algorithm
// (libinjection_sqli.c, v3.10.x behaviour). libinjection is Copyright (c) 2012-2016 Nick Galbreath
// and (c) 2021 LibInjection, BSD-3-Clause; its licence text is in ./data.ts.
//
// Inputs are byte strings: one char per byte (latin1, char codes 0..255). The tokenizer scans the
// string by index with charCodeAt; tokens live in a preallocated vector that is reused per call.
// C semantics that matter for the result are kept on purpose: token values hold at most 31 bytes
// (char val[32]), `char` is signed where libinjection compares it with '<', and strspn-style
// character sets always accept NUL (strchr finds the terminator).
import {
  CHARMAP,
  CHAR_BACK,
  CHAR_BANG,
  CHAR_BSTRING,
  CHAR_BWORD,
  CHAR_COMMA,
  CHAR_DASH,
  CHAR_ESTRING,
  CHAR_HASH,
  CHAR_LEFTBRACE,
  CHAR_LEFTPARENS,
  CHAR_MONEY,
  CHAR_NQSTRING,
  CHAR_NUM,
  CHAR_OP1,
  CHAR_OP2,
  CHAR_OTHER,
  CHAR_QSTRING,
  CHAR_RIGHTBRACE,
  CHAR_RIGHTPARENS,
  CHAR_SEMICOLON,
  CHAR_SLASH,
  CHAR_STR,
  CHAR_TICK,
  CHAR_UNARY,
  CHAR_USTRING,
  CHAR_VAR,
  CHAR_WHITE,
  CHAR_WORD,
  CHAR_XSTRING,
  FINGERPRINT_SET,
  KEYWORDS,
  MAX_KEYWORD_LEN,
} from './data.js';

// ---- flags (enum sqli_flags) --------------------------------------------------------------------
export const FLAG_NONE = 0;
export const FLAG_QUOTE_NONE = 1;
export const FLAG_QUOTE_SINGLE = 2;
export const FLAG_QUOTE_DOUBLE = 4;
export const FLAG_SQL_ANSI = 8;
export const FLAG_SQL_MYSQL = 16;

// ---- lookup kinds (enum lookup_type) ------------------------------------------------------------
export const LOOKUP_WORD = 1;
export const LOOKUP_TYPE = 2;
export const LOOKUP_OPERATOR = 3;
export const LOOKUP_FINGERPRINT = 4;

// ---- token types: the char code of the fingerprint letter -------------------------------------
export const TYPE_NONE = 0;
export const TYPE_KEYWORD = 0x6b; // 'k'
export const TYPE_UNION = 0x55; // 'U'
export const TYPE_GROUP = 0x42; // 'B'
export const TYPE_EXPRESSION = 0x45; // 'E'
export const TYPE_SQLTYPE = 0x74; // 't'
export const TYPE_FUNCTION = 0x66; // 'f'
export const TYPE_BAREWORD = 0x6e; // 'n'
export const TYPE_NUMBER = 0x31; // '1'
export const TYPE_VARIABLE = 0x76; // 'v'
export const TYPE_STRING = 0x73; // 's'
export const TYPE_OPERATOR = 0x6f; // 'o'
export const TYPE_LOGIC_OPERATOR = 0x26; // '&'
export const TYPE_COMMENT = 0x63; // 'c'
export const TYPE_COLLATE = 0x41; // 'A'
export const TYPE_LEFTPARENS = 0x28; // '('
export const TYPE_RIGHTPARENS = 0x29; // ')'
export const TYPE_LEFTBRACE = 0x7b; // '{'
export const TYPE_RIGHTBRACE = 0x7d; // '}'
export const TYPE_DOT = 0x2e; // '.'
export const TYPE_COMMA = 0x2c; // ','
export const TYPE_COLON = 0x3a; // ':'
export const TYPE_SEMICOLON = 0x3b; // ';'
export const TYPE_TSQL = 0x54; // 'T'
export const TYPE_UNKNOWN = 0x3f; // '?'
export const TYPE_EVIL = 0x58; // 'X'
export const TYPE_FINGERPRINT = 0x46; // 'F'
export const TYPE_BACKSLASH = 0x5c; // '\\'

/** sizeof(stoken_t.val): values keep at most TOKEN_SIZE - 1 bytes. */
export const TOKEN_SIZE = 32;
/** Longest fingerprint. */
export const MAX_TOKENS = 5;

const CHAR_NULL = 0;
const CHAR_SINGLE = 0x27; // '
const CHAR_DOUBLE = 0x22; // "
const CHAR_TICK_Q = 0x60; // `

/** One-char strings for every byte, so single-char tokens allocate nothing. */
const BYTE_STR: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/** The one-char string of a char code (codes above 0xFF cannot occur in byte strings). */
function chr(c: number): string {
  return BYTE_STR[c] ?? String.fromCharCode(c);
}

function charSet(chars: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  set[0] = 1; // strchr(accept, '\0') finds the terminator: NUL is always in the set
  return set;
}

/** Bytes that end a word (parse_word). */
const WORD_DELIM = charSet(' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"\xa0');
/** Bytes that end a variable name (parse_var). */
const VAR_DELIM = charSet(' <>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r\'`"');
const WHITE = charSet(' \t\n\v\f\r\xa0');
const SET_01 = charSet('01');
const SET_HEX = charSet('0123456789ABCDEFabcdef');
const SET_MONEY = charSet('0123456789.,');
const SET_LETTERS = charSet('abcdefghjiklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** strlenspn: length of the prefix of s[from..end) made of bytes in `set`. */
function spn(s: string, from: number, end: number, set: Uint8Array): number {
  let i = from;
  while (i < end && set[s.charCodeAt(i)] === 1) i++;
  return i - from;
}

/** memchr2: first i in [from, from+len-1) with s[i] == c0 && s[i+1] == c1, else -1. */
function memchr2(s: string, from: number, len: number, c0: number, c1: number): number {
  if (len < 2) return -1;
  const last = from + len - 1;
  const c0s = BYTE_STR[c0]!;
  let i = s.indexOf(c0s, from);
  while (i !== -1 && i < last) {
    if (s.charCodeAt(i + 1) === c1) return i;
    i = s.indexOf(c0s, i + 1);
  }
  return -1;
}

/**
 * cstrcasecmp(upper, val, n) == 0: the first n bytes of `val` equal the all-upper-case ASCII
 * word `upper`, comparing case-insensitively on a-z only.
 */
function wordEq(upper: string, val: string, n: number): boolean {
  if (n !== upper.length || val.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = val.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== upper.charCodeAt(i)) return false;
  }
  return true;
}

// Open-addressing index over the KEYWORDS map (upper-cased word -> type), hashed on the
// ASCII-upper-cased bytes, so a word is looked up in place, without allocating an upper-cased
// copy of it. libinjection itself binary-searches a sorted table with a case-insensitive compare.
const KW_SIZE = 4096; // power of two, > 4 x keywords
const KW_WORDS: string[] = [];
const KW_TYPES: number[] = [];
const KW_SLOTS = new Int16Array(KW_SIZE).fill(-1);

function kwHashStep(h: number, c: number): number {
  if (c >= 0x61 && c <= 0x7a) c -= 0x20;
  return Math.imul(h ^ c, 0x01000193);
}

function kwHash(word: string, len: number): number {
  let h = len;
  for (let i = 0; i < len; i++) h = kwHashStep(h, word.charCodeAt(i));
  return (h ^ (h >>> 15)) & (KW_SIZE - 1);
}

for (const [w, t] of KEYWORDS) {
  let slot = kwHash(w, w.length);
  while (KW_SLOTS[slot] !== -1) slot = (slot + 1) & (KW_SIZE - 1);
  KW_SLOTS[slot] = KW_WORDS.length;
  KW_WORDS.push(w);
  KW_TYPES.push(t);
}

/**
 * Keyword lookup (libinjection_sqli_lookup_word for words and operators): type char code of the
 * first `len` bytes of `word`, case-insensitive on ASCII a-z, or 0. Same answer as
 * KEYWORDS.get(upper(word)), O(1), without allocating.
 */
export function lookupWord(word: string, len: number = word.length): number {
  if (len === 0 || len > MAX_KEYWORD_LEN || len > word.length) return TYPE_NONE;
  let slot = kwHash(word, len);
  for (;;) {
    const k = KW_SLOTS[slot]!;
    if (k === -1) return TYPE_NONE;
    const w = KW_WORDS[k]!;
    if (w.length === len && wordEq(w, word, len)) return KW_TYPES[k]!;
    slot = (slot + 1) & (KW_SIZE - 1);
  }
}

// Fingerprints as small integers: each (upper-cased) char is given a 5-bit code, so a fingerprint of
// up to 5 chars is a 25-bit number and checking one allocates nothing. Same answer as
// FINGERPRINT_SET.has(upper(fingerprint)).
const FP_CHAR_CODE = new Uint8Array(128);
let fpCodes = 0;
for (const fp of FINGERPRINT_SET) {
  for (let i = 0; i < fp.length; i++) {
    const c = fp.charCodeAt(i);
    if (FP_CHAR_CODE[c] === 0) FP_CHAR_CODE[c] = ++fpCodes;
  }
}
if (fpCodes > 31) throw new Error('libinjection: too many distinct fingerprint chars');

/** The numeric code of a fingerprint, or -1 if no fingerprint can have it. */
function fingerprintCode(fp: string): number {
  if (fp.length === 0 || fp.length > MAX_TOKENS) return -1;
  let code = 0;
  for (let i = 0; i < fp.length; i++) {
    let c = fp.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    const k = c < 128 ? FP_CHAR_CODE[c]! : 0;
    if (k === 0) return -1;
    code = code * 32 + k;
  }
  return code;
}

const FINGERPRINT_CODES: ReadonlySet<number> = new Set([...FINGERPRINT_SET].map(fingerprintCode));

/**
 * lookupWord(a[0..alen) + ' ' + b[0..blen)) without building the phrase (syntax_merge_words looks
 * up every pair of adjacent words).
 */
function lookupPhrase(a: string, alen: number, b: string, blen: number): number {
  const len = alen + blen + 1;
  if (len > MAX_KEYWORD_LEN) return TYPE_NONE;
  let h = len;
  for (let i = 0; i < alen; i++) h = kwHashStep(h, a.charCodeAt(i));
  h = kwHashStep(h, 0x20);
  for (let i = 0; i < blen; i++) h = kwHashStep(h, b.charCodeAt(i));
  let slot = (h ^ (h >>> 15)) & (KW_SIZE - 1);
  for (;;) {
    const k = KW_SLOTS[slot]!;
    if (k === -1) return TYPE_NONE;
    const w = KW_WORDS[k]!;
    if (w.length === len && w.charCodeAt(alen) === 0x20 && prefixEq(w, 0, a, alen) && prefixEq(w, alen + 1, b, blen)) {
      return KW_TYPES[k]!;
    }
    slot = (slot + 1) & (KW_SIZE - 1);
  }
}

/** upper[off .. off+n) equals val[0..n) upper-cased (ASCII a-z). */
function prefixEq(upper: string, off: number, val: string, n: number): boolean {
  if (val.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = val.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== upper.charCodeAt(off + i)) return false;
  }
  return true;
}

/** Whether `fingerprint` is one of libinjection's SQLi fingerprints (case-insensitive). */
export function isFingerprint(fingerprint: string): boolean {
  const code = fingerprintCode(fingerprint);
  return code !== -1 && FINGERPRINT_CODES.has(code);
}

/** A token (struct libinjection_sqli_token). Instances are preallocated and reused. */
export class SqliToken {
  /** position of the token in the input */
  pos = 0;
  /** length of the value (at most TOKEN_SIZE - 1) */
  len = 0;
  /** for type 'v': number of leading '@' (1 or 2) */
  count = 0;
  /** token type: a char code (TYPE_*), 0 when empty */
  type = 0;
  /** opening quote char code, 0 if none */
  strOpen = 0;
  /** closing quote char code, 0 if none */
  strClose = 0;
  /** value: at most TOKEN_SIZE - 1 bytes of the token (may contain NUL bytes) */
  val = '';

  clear(): void {
    this.pos = 0;
    this.len = 0;
    this.count = 0;
    this.type = 0;
    this.strOpen = 0;
    this.strClose = 0;
    this.val = '';
  }

  /** st_assign_char */
  assignChar(type: number, pos: number, ch: number): void {
    this.type = type;
    this.pos = pos;
    this.len = 1;
    this.val = chr(ch);
  }

  /** st_assign: value = src[start .. start+len), truncated to TOKEN_SIZE - 1 bytes. */
  assign(type: number, pos: number, len: number, src: string, start: number): void {
    const last = len < TOKEN_SIZE ? len : TOKEN_SIZE - 1;
    this.type = type;
    this.pos = pos;
    this.len = last;
    this.val = last === 1 ? chr(src.charCodeAt(start)) : src.substring(start, start + last);
  }

  copyFrom(o: SqliToken): void {
    this.pos = o.pos;
    this.len = o.len;
    this.count = o.count;
    this.type = o.type;
    this.strOpen = o.strOpen;
    this.strClose = o.strClose;
    this.val = o.val;
  }

  /** The value as libinjection prints it (a C string: up to the first NUL). */
  cval(): string {
    const z = this.val.indexOf('\0');
    return z === -1 ? this.val : this.val.substring(0, z);
  }
}

function isUnaryOp(t: SqliToken): boolean {
  if (t.type !== TYPE_OPERATOR) return false;
  const v = t.val;
  switch (t.len) {
    case 1: {
      const c = v.charCodeAt(0);
      return c === 0x2b || c === 0x2d || c === 0x21 || c === 0x7e; // + - ! ~
    }
    case 2:
      return v.charCodeAt(0) === 0x21 && v.charCodeAt(1) === 0x21; // !!
    case 3:
      return wordEq('NOT', v, 3);
    default:
      return false;
  }
}

function isArithmeticOp(t: SqliToken): boolean {
  if (t.type !== TYPE_OPERATOR || t.len !== 1) return false;
  const c = t.val.charCodeAt(0);
  return c === 0x2a || c === 0x2f || c === 0x2d || c === 0x2b || c === 0x25; // * / - + %
}

/**
 * Parsing state (struct libinjection_sqli_state). One instance can be reused for any number of
 * inputs: init() resets it. The C API maps as:
 *   libinjection_sqli_init        -> init(s, flags)
 *   libinjection_sqli_tokenize    -> tokenize()   (token in .current)
 *   libinjection_sqli_fold        -> fold()       (tokens in .tokenvec[0 .. n))
 *   libinjection_sqli_fingerprint -> fingerprintFor(flags)
 *   libinjection_sqli_check_fingerprint / blacklist / not_whitelist -> checkFingerprint() ...
 *   libinjection_is_sqli          -> isSqli()
 */
export class SqliState {
  s = '';
  slen = 0;
  flags = 0;
  /** index in the input during tokenization */
  pos = 0;
  /** MAX_TOKENS + 3 tokens: folding looks one token past the fifth */
  readonly tokenvec: SqliToken[] = Array.from({ length: 8 }, () => new SqliToken());
  /** token being filled by tokenize() */
  current: SqliToken;
  /** fingerprint of the last fingerprintFor() */
  fingerprint = '';
  /** source line in libinjection that decided (debugging aid; only 0 / non-0 is meaningful) */
  reason = 0;
  statsCommentDdw = 0;
  statsCommentDdx = 0;
  statsCommentC = 0;
  statsCommentHash = 0;
  statsFolds = 0;
  statsTokens = 0;

  private readonly lastComment = new SqliToken();

  constructor(s = '', flags = 0) {
    this.current = this.tokenvec[0]!;
    this.init(s, flags);
  }

  /** libinjection_sqli_init: flags 0 means FLAG_QUOTE_NONE | FLAG_SQL_ANSI. */
  init(s: string, flags = 0): this {
    if (flags === 0) flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI;
    this.s = s;
    this.slen = s.length;
    this.flags = flags;
    this.pos = 0;
    for (let i = 0; i < this.tokenvec.length; i++) this.tokenvec[i]!.clear();
    this.current = this.tokenvec[0]!;
    this.fingerprint = '';
    this.reason = 0;
    this.statsCommentDdw = 0;
    this.statsCommentDdx = 0;
    this.statsCommentC = 0;
    this.statsCommentHash = 0;
    this.statsFolds = 0;
    this.statsTokens = 0;
    return this;
  }

  /** libinjection_sqli_reset: same input, new flags. */
  reset(flags = 0): this {
    return this.init(this.s, flags);
  }

  // ---- tokenizer ---------------------------------------------------------------------------------

  /** libinjection_sqli_tokenize: next token into this.current; false when the input is exhausted. */
  tokenize(): boolean {
    const s = this.s;
    const slen = this.slen;
    const current = this.current;
    if (slen === 0) return false;
    current.clear();

    // at the start in a quote context: pretend the input begins with that quote
    if (this.pos === 0 && (this.flags & (FLAG_QUOTE_SINGLE | FLAG_QUOTE_DOUBLE)) !== 0) {
      const delim = this.flags & FLAG_QUOTE_SINGLE ? CHAR_SINGLE : CHAR_DOUBLE;
      this.pos = this.parseStringCore(0, delim, 0);
      this.statsTokens += 1;
      return true;
    }

    while (this.pos < slen) {
      const c = s.charCodeAt(this.pos);
      // a char above 0xFF cannot occur in a byte string; it is handled as a word char
      this.pos = this.dispatch(c < 256 ? CHARMAP[c]! : CHAR_WORD);
      if (current.type !== CHAR_NULL) {
        this.statsTokens += 1;
        return true;
      }
    }
    return false;
  }

  /** char_parse_map[ch](sf) */
  private dispatch(cls: number): number {
    switch (cls) {
      case CHAR_WHITE:
        return this.pos + 1;
      case CHAR_WORD:
        return this.parseWord();
      case CHAR_NUM:
        return this.parseNumber();
      case CHAR_STR:
        return this.parseStringCore(this.pos, this.s.charCodeAt(this.pos), 1);
      case CHAR_OP2:
      case CHAR_BANG:
        return this.parseOperator2();
      case CHAR_OP1:
      case CHAR_UNARY:
        return this.parseOperator1();
      case CHAR_LEFTPARENS:
      case CHAR_RIGHTPARENS:
      case CHAR_COMMA:
      case CHAR_SEMICOLON:
      case CHAR_LEFTBRACE:
      case CHAR_RIGHTBRACE: {
        const c = this.s.charCodeAt(this.pos);
        this.current.assignChar(c, this.pos, c);
        return this.pos + 1;
      }
      case CHAR_DASH:
        return this.parseDash();
      case CHAR_SLASH:
        return this.parseSlash();
      case CHAR_HASH:
        return this.parseHash();
      case CHAR_MONEY:
        return this.parseMoney();
      case CHAR_VAR:
        return this.parseVar();
      case CHAR_TICK:
        return this.parseTick();
      case CHAR_BACK:
        return this.parseBackslash();
      case CHAR_BWORD:
        return this.parseBword();
      case CHAR_BSTRING:
        return this.parseBstring();
      case CHAR_XSTRING:
        return this.parseXstring();
      case CHAR_ESTRING:
        return this.parseEstring();
      case CHAR_NQSTRING:
        return this.parseNqstring();
      case CHAR_QSTRING:
        return this.parseQstringCore(0);
      case CHAR_USTRING:
        return this.parseUstring();
      case CHAR_OTHER:
      default:
        this.current.assignChar(TYPE_UNKNOWN, this.pos, this.s.charCodeAt(this.pos));
        return this.pos + 1;
    }
  }

  private parseOperator1(): number {
    const pos = this.pos;
    this.current.assignChar(TYPE_OPERATOR, pos, this.s.charCodeAt(pos));
    return pos + 1;
  }

  private parseEolComment(): number {
    const s = this.s;
    const pos = this.pos;
    const end = s.indexOf('\n', pos);
    if (end === -1) {
      this.current.assign(TYPE_COMMENT, pos, this.slen - pos, s, pos);
      return this.slen;
    }
    this.current.assign(TYPE_COMMENT, pos, end - pos, s, pos);
    return end + 1;
  }

  /** '#': an operator in ANSI mode, an end-of-line comment in MySQL mode. */
  private parseHash(): number {
    this.statsCommentHash += 1;
    if (this.flags & FLAG_SQL_MYSQL) {
      this.statsCommentHash += 1;
      return this.parseEolComment();
    }
    this.current.assignChar(TYPE_OPERATOR, this.pos, 0x23);
    return this.pos + 1;
  }

  private parseDash(): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos;
    // --[white] and --[EOF] are comments everywhere; --[notwhite] is one only in ANSI mode
    // (MySQL reads it as two unary minus); a lone '-' is an operator.
    if (pos + 2 < slen && s.charCodeAt(pos + 1) === 0x2d && WHITE[s.charCodeAt(pos + 2)] === 1) {
      return this.parseEolComment();
    } else if (pos + 2 === slen && s.charCodeAt(pos + 1) === 0x2d) {
      return this.parseEolComment();
    } else if (pos + 1 < slen && s.charCodeAt(pos + 1) === 0x2d && this.flags & FLAG_SQL_ANSI) {
      this.statsCommentDdx += 1;
      return this.parseEolComment();
    }
    this.current.assignChar(TYPE_OPERATOR, pos, 0x2d);
    return pos + 1;
  }

  private parseSlash(): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos;
    const pos1 = pos + 1;
    if (pos1 === slen || s.charCodeAt(pos1) !== 0x2a) return this.parseOperator1();

    // find the closing '*/' after the opening '/*'
    const end = memchr2(s, pos + 2, slen - (pos + 2), 0x2a, 0x2f);
    const clen = end === -1 ? slen - pos : end + 2 - pos;
    let ctype = TYPE_COMMENT;
    // a nested '/*' (PostgreSQL nests comments) or a MySQL '/*!' conditional comment: evil
    if (end !== -1 && memchr2(s, pos + 2, end - (pos + 1), 0x2f, 0x2a) !== -1) {
      ctype = TYPE_EVIL;
    } else if (pos + 2 < slen && s.charCodeAt(pos + 2) === 0x21) {
      ctype = TYPE_EVIL;
    }
    this.current.assign(ctype, pos, clen, s, pos);
    return pos + clen;
  }

  private parseBackslash(): number {
    const s = this.s;
    const pos = this.pos;
    // MySQL alias for NULL: "\N" (capital N only)
    if (pos + 1 < this.slen && s.charCodeAt(pos + 1) === 0x4e) {
      this.current.assign(TYPE_NUMBER, pos, 2, s, pos);
      return pos + 2;
    }
    this.current.assignChar(TYPE_BACKSLASH, pos, s.charCodeAt(pos));
    return pos + 1;
  }

  private parseOperator2(): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos;
    if (pos + 1 >= slen) return this.parseOperator1();
    const c0 = s.charCodeAt(pos);
    if (pos + 2 < slen && c0 === 0x3c && s.charCodeAt(pos + 1) === 0x3d && s.charCodeAt(pos + 2) === 0x3e) {
      // special 3-char operator '<=>'
      this.current.assign(TYPE_OPERATOR, pos, 3, s, pos);
      return pos + 3;
    }
    const ch = lookupWord(s.substring(pos, pos + 2), 2);
    if (ch !== CHAR_NULL) {
      this.current.assign(ch, pos, 2, s, pos);
      return pos + 2;
    }
    if (c0 === 0x3a) {
      // ':' is not an operator
      this.current.assignChar(TYPE_COLON, pos, c0);
      return pos + 1;
    }
    return this.parseOperator1();
  }

  /**
   * A quoted string starting at pos; offset 1 skips a real opening quote, offset 0 means the quote
   * is simulated (quote context). Doubled delimiters and backslash-escaped ones do not close it.
   */
  private parseStringCore(pos: number, delim: number, offset: number): number {
    const s = this.s;
    const len = this.slen;
    const st = this.current;
    const start = pos + offset;
    const dstr = BYTE_STR[delim]!;
    let qpos = s.indexOf(dstr, start);
    st.strOpen = offset > 0 ? delim : CHAR_NULL;
    for (;;) {
      if (qpos === -1) {
        // no closing quote
        st.assign(TYPE_STRING, start, len - start, s, start);
        st.strClose = CHAR_NULL;
        return len;
      }
      // odd number of backslashes just before the quote: escaped
      let b = qpos - 1;
      while (b >= start && s.charCodeAt(b) === 0x5c) b--;
      if (((qpos - 1 - b) & 1) === 1) {
        qpos = s.indexOf(dstr, qpos + 1);
        continue;
      }
      if (qpos + 1 < len && s.charCodeAt(qpos + 1) === delim) {
        // doubled delimiter: escaped
        qpos = s.indexOf(dstr, qpos + 2);
        continue;
      }
      st.assign(TYPE_STRING, start, qpos - start, s, start);
      st.strClose = delim;
      return qpos + 1;
    }
  }

  /** E'...' (PostgreSQL escaped string) / N'...' (national charset). */
  private parseEstring(): number {
    const pos = this.pos;
    if (pos + 2 >= this.slen || this.s.charCodeAt(pos + 1) !== CHAR_SINGLE) return this.parseWord();
    return this.parseStringCore(pos, CHAR_SINGLE, 2);
  }

  /** U&'...' */
  private parseUstring(): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 2 < this.slen && s.charCodeAt(pos + 1) === 0x26 && s.charCodeAt(pos + 2) === CHAR_SINGLE) {
      this.pos += 2;
      const next = this.parseStringCore(this.pos, this.s.charCodeAt(this.pos), 1);
      this.current.strOpen = 0x75; // 'u'
      if (this.current.strClose === CHAR_SINGLE) this.current.strClose = 0x75;
      return next;
    }
    return this.parseWord();
  }

  /** Oracle q'<delim>...<delim>' strings (offset 1 for nq'...'). */
  private parseQstringCore(offset: number): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos + offset;
    if (pos >= slen) return this.parseWord();
    const c = s.charCodeAt(pos);
    if ((c !== 0x71 && c !== 0x51) || pos + 2 >= slen || s.charCodeAt(pos + 1) !== CHAR_SINGLE) {
      return this.parseWord();
    }
    let ch = s.charCodeAt(pos + 2);
    // signed char: bytes >= 0x80 are negative, so "< 33" too
    if (ch < 33 || ch >= 0x80) return this.parseWord();
    switch (ch) {
      case 0x28:
        ch = 0x29; // ( )
        break;
      case 0x5b:
        ch = 0x5d; // [ ]
        break;
      case 0x7b:
        ch = 0x7d; // { }
        break;
      case 0x3c:
        ch = 0x3e; // < >
        break;
    }
    const end = memchr2(s, pos + 3, slen - pos - 3, ch, CHAR_SINGLE);
    const cur = this.current;
    if (end === -1) {
      cur.assign(TYPE_STRING, pos + 3, slen - pos - 3, s, pos + 3);
      cur.strOpen = 0x71; // 'q'
      cur.strClose = CHAR_NULL;
      return slen;
    }
    cur.assign(TYPE_STRING, pos + 3, end - pos - 3, s, pos + 3);
    cur.strOpen = 0x71;
    cur.strClose = 0x71;
    return end + 2;
  }

  /** N'...' or Oracle nq'...' */
  private parseNqstring(): number {
    const pos = this.pos;
    if (pos + 2 < this.slen && this.s.charCodeAt(pos + 1) === CHAR_SINGLE) return this.parseEstring();
    return this.parseQstringCore(1);
  }

  /** b'0101' binary literal */
  private parseBstring(): number {
    return this.parseBinHexString(SET_01);
  }

  /** x'ABCD' hex literal */
  private parseXstring(): number {
    return this.parseBinHexString(SET_HEX);
  }

  private parseBinHexString(set: Uint8Array): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos;
    if (pos + 2 >= slen || s.charCodeAt(pos + 1) !== CHAR_SINGLE) return this.parseWord();
    const wlen = spn(s, pos + 2, slen, set);
    if (pos + 2 + wlen >= slen || s.charCodeAt(pos + 2 + wlen) !== CHAR_SINGLE) return this.parseWord();
    this.current.assign(TYPE_NUMBER, pos, wlen + 3, s, pos);
    return pos + 2 + wlen + 1;
  }

  /** MS SQL Server [bracket words] */
  private parseBword(): number {
    const s = this.s;
    const pos = this.pos;
    const end = s.indexOf(']', pos);
    if (end === -1) {
      this.current.assign(TYPE_BAREWORD, pos, this.slen - pos, s, pos);
      return this.slen;
    }
    this.current.assign(TYPE_BAREWORD, pos, end - pos + 1, s, pos);
    return end + 1;
  }

  private parseWord(): number {
    const s = this.s;
    const pos = this.pos;
    const cur = this.current;
    let end = pos;
    while (end < this.slen && WORD_DELIM[s.charCodeAt(end)] !== 1) end++;
    const wlen = end - pos;
    cur.assign(TYPE_BAREWORD, pos, wlen, s, pos);

    // a keyword before '.' or '`' ends the word: "SELECT.1", "SELECT`col`"
    const val = cur.val;
    for (let i = 0; i < cur.len; i++) {
      const d = val.charCodeAt(i);
      if (d === 0x2e || d === 0x60) {
        const ch = lookupWord(val, i);
        if (ch !== TYPE_NONE && ch !== TYPE_BAREWORD) {
          cur.clear();
          cur.assign(ch, pos, i, s, pos);
          return pos + i;
        }
      }
    }

    // normal lookup of the whole word (including any '.')
    if (wlen < TOKEN_SIZE) {
      const ch = lookupWord(val, wlen);
      cur.type = ch === CHAR_NULL ? TYPE_BAREWORD : ch;
    }
    return pos + wlen;
  }

  /** MySQL `backtick` names: a bareword, or a function if the name is one. */
  private parseTick(): number {
    const next = this.parseStringCore(this.pos, CHAR_TICK_Q, 1);
    const cur = this.current;
    cur.type = lookupWord(cur.val, cur.len) === TYPE_FUNCTION ? TYPE_FUNCTION : TYPE_BAREWORD;
    return next;
  }

  /** @var, @@var, @@`var`, @'var', @"var" */
  private parseVar(): number {
    const s = this.s;
    const slen = this.slen;
    const cur = this.current;
    let pos = this.pos + 1;
    if (pos < slen && s.charCodeAt(pos) === 0x40) {
      pos += 1;
      cur.count = 2;
    } else {
      cur.count = 1;
    }
    if (pos < slen) {
      const c = s.charCodeAt(pos);
      if (c === CHAR_TICK_Q) {
        this.pos = pos;
        const next = this.parseTick();
        cur.type = TYPE_VARIABLE;
        return next;
      } else if (c === CHAR_SINGLE || c === CHAR_DOUBLE) {
        this.pos = pos;
        const next = this.parseStringCore(pos, c, 1);
        cur.type = TYPE_VARIABLE;
        return next;
      }
    }
    let end = pos;
    while (end < slen && VAR_DELIM[s.charCodeAt(end)] !== 1) end++;
    cur.assign(TYPE_VARIABLE, pos, end - pos, s, pos);
    return end;
  }

  /** $1,000.00 money, $$...$$ and $tag$...$tag$ PostgreSQL strings */
  private parseMoney(): number {
    const s = this.s;
    const slen = this.slen;
    const pos = this.pos;
    const cur = this.current;
    if (pos + 1 === slen) {
      cur.assignChar(TYPE_BAREWORD, pos, 0x24);
      return slen;
    }
    let xlen = spn(s, pos + 1, slen, SET_MONEY);
    if (xlen === 0) {
      if (s.charCodeAt(pos + 1) === 0x24) {
        // $$ ... $$
        const end = memchr2(s, pos + 2, slen - pos - 2, 0x24, 0x24);
        if (end === -1) {
          cur.assign(TYPE_STRING, pos + 2, slen - (pos + 2), s, pos + 2);
          cur.strOpen = 0x24;
          cur.strClose = CHAR_NULL;
          return slen;
        }
        cur.assign(TYPE_STRING, pos + 2, end - (pos + 2), s, pos + 2);
        cur.strOpen = 0x24;
        cur.strClose = 0x24;
        return end + 2;
      }
      // maybe a PostgreSQL $tag$ ... $tag$ string
      xlen = spn(s, pos + 1, slen, SET_LETTERS);
      if (xlen === 0) {
        cur.assignChar(TYPE_BAREWORD, pos, 0x24);
        return pos + 1;
      }
      if (pos + xlen + 1 === slen || s.charCodeAt(pos + xlen + 1) !== 0x24) {
        cur.assignChar(TYPE_BAREWORD, pos, 0x24);
        return pos + 1;
      }
      const tag = s.substring(pos, pos + xlen + 2);
      const bodyStart = pos + xlen + 2;
      const end = s.indexOf(tag, bodyStart);
      if (end === -1) {
        cur.assign(TYPE_STRING, bodyStart, slen - bodyStart, s, bodyStart);
        cur.strOpen = 0x24;
        cur.strClose = CHAR_NULL;
        return slen;
      }
      cur.assign(TYPE_STRING, bodyStart, end - bodyStart, s, bodyStart);
      cur.strOpen = 0x24;
      cur.strClose = 0x24;
      return end + xlen + 2;
    } else if (xlen === 1 && s.charCodeAt(pos + 1) === 0x2e) {
      // "$." is a word
      return this.parseWord();
    }
    cur.assign(TYPE_NUMBER, pos, 1 + xlen, s, pos);
    return pos + 1 + xlen;
  }

  private parseNumber(): number {
    const s = this.s;
    const slen = this.slen;
    const cur = this.current;
    let pos = this.pos;
    let haveE = false;
    let haveExp = false;

    if (s.charCodeAt(pos) === 0x30 && pos + 1 < slen) {
      const c1 = s.charCodeAt(pos + 1);
      const set = c1 === 0x58 || c1 === 0x78 ? SET_HEX : c1 === 0x42 || c1 === 0x62 ? SET_01 : null;
      if (set !== null) {
        const xlen = spn(s, pos + 2, slen, set);
        if (xlen === 0) {
          cur.assign(TYPE_BAREWORD, pos, 2, s, pos);
          return pos + 2;
        }
        cur.assign(TYPE_NUMBER, pos, 2 + xlen, s, pos);
        return pos + 2 + xlen;
      }
    }

    const start = pos;
    while (pos < slen && isDigit(s.charCodeAt(pos))) pos += 1;
    if (pos < slen && s.charCodeAt(pos) === 0x2e) {
      pos += 1;
      while (pos < slen && isDigit(s.charCodeAt(pos))) pos += 1;
      if (pos - start === 1) {
        // only a '.'
        cur.assignChar(TYPE_DOT, start, 0x2e);
        return pos;
      }
    }
    if (pos < slen) {
      const c = s.charCodeAt(pos);
      if (c === 0x45 || c === 0x65) {
        haveE = true;
        pos += 1;
        if (pos < slen) {
          const sign = s.charCodeAt(pos);
          if (sign === 0x2b || sign === 0x2d) pos += 1;
        }
        while (pos < slen && isDigit(s.charCodeAt(pos))) {
          haveExp = true;
          pos += 1;
        }
      }
    }
    // Oracle float/double suffix [dDfF]
    if (pos < slen) {
      const c = s.charCodeAt(pos);
      if (c === 0x64 || c === 0x44 || c === 0x66 || c === 0x46) {
        if (pos + 1 === slen) {
          pos += 1;
        } else {
          const n = s.charCodeAt(pos + 1);
          if (WHITE[n] === 1 || n === 0x3b || n === 0x75 || n === 0x55) pos += 1; // white, ';', 'u', 'U'
        }
      }
    }
    // "1234.e", "10.10E", ".E": an exponent marker without digits makes a word, not a number
    cur.assign(haveE && !haveExp ? TYPE_BAREWORD : TYPE_NUMBER, start, pos - start, s, start);
    return pos;
  }

  // ---- folding -----------------------------------------------------------------------------------

  /** syntax_merge_words: "UNION" + "ALL" -> "UNION ALL" when the pair is a known phrase. */
  private mergeWords(a: SqliToken, b: SqliToken): boolean {
    const at = a.type;
    if (
      !(
        at === TYPE_KEYWORD ||
        at === TYPE_BAREWORD ||
        at === TYPE_OPERATOR ||
        at === TYPE_UNION ||
        at === TYPE_FUNCTION ||
        at === TYPE_EXPRESSION ||
        at === TYPE_TSQL ||
        at === TYPE_SQLTYPE
      )
    ) {
      return false;
    }
    const bt = b.type;
    if (
      !(
        bt === TYPE_KEYWORD ||
        bt === TYPE_BAREWORD ||
        bt === TYPE_OPERATOR ||
        bt === TYPE_UNION ||
        bt === TYPE_FUNCTION ||
        bt === TYPE_EXPRESSION ||
        bt === TYPE_TSQL ||
        bt === TYPE_SQLTYPE ||
        bt === TYPE_LOGIC_OPERATOR
      )
    ) {
      return false;
    }
    const sz3 = a.len + b.len + 1;
    if (sz3 >= TOKEN_SIZE || sz3 > MAX_KEYWORD_LEN) return false;
    const ch = lookupPhrase(a.val, a.len, b.val, b.len);
    if (ch === CHAR_NULL) return false;
    // the phrase is a keyword: its value is a.val + ' ' + b.val, as libinjection builds it
    a.val = a.val.substring(0, a.len) + ' ' + b.val.substring(0, b.len);
    a.type = ch;
    a.len = sz3;
    return true;
  }

  /** Reads the next non-comment token into tokenvec[pos]; returns the new pos. */
  private fetch(pos: number): number {
    this.current = this.tokenvec[pos]!;
    this.more = this.tokenize();
    if (this.more) {
      if (this.current.type === TYPE_COMMENT) {
        this.lastComment.copyFrom(this.current);
      } else {
        this.lastComment.type = CHAR_NULL;
        pos += 1;
      }
    }
    return pos;
  }

  private more = true;

  /** libinjection_sqli_fold: tokenizes and folds; returns the number of tokens (<= 5) in tokenvec. */
  fold(): number {
    const tv = this.tokenvec;
    const lastComment = this.lastComment;
    // pos: where the next token goes; left: tokens already folded (part of the fingerprint)
    let pos = 0;
    let left = 0;
    lastComment.clear();

    // skip all initial comments, right-parens ( and unary operators
    this.current = tv[0]!;
    this.more = true;
    while (this.more) {
      this.more = this.tokenize();
      const t = this.current;
      if (!(t.type === TYPE_COMMENT || t.type === TYPE_LEFTPARENS || t.type === TYPE_SQLTYPE || isUnaryOp(t))) break;
    }
    if (!this.more) return 0; // only comments, unary operators or '('
    pos += 1;

    for (;;) {
      // all 5 tokens: a few 5-token shapes are folded further
      if (pos >= MAX_TOKENS) {
        const t0 = tv[0]!.type;
        const t1 = tv[1]!.type;
        const t2 = tv[2]!.type;
        const t3 = tv[3]!.type;
        const t4 = tv[4]!.type;
        if (
          (t0 === TYPE_NUMBER &&
            (t1 === TYPE_OPERATOR || t1 === TYPE_COMMA) &&
            t2 === TYPE_LEFTPARENS &&
            t3 === TYPE_NUMBER &&
            t4 === TYPE_RIGHTPARENS) ||
          (t0 === TYPE_BAREWORD &&
            t1 === TYPE_OPERATOR &&
            t2 === TYPE_LEFTPARENS &&
            (t3 === TYPE_BAREWORD || t3 === TYPE_NUMBER) &&
            t4 === TYPE_RIGHTPARENS) ||
          (t0 === TYPE_NUMBER &&
            t1 === TYPE_RIGHTPARENS &&
            t2 === TYPE_COMMA &&
            t3 === TYPE_LEFTPARENS &&
            t4 === TYPE_NUMBER) ||
          (t0 === TYPE_BAREWORD &&
            t1 === TYPE_RIGHTPARENS &&
            t2 === TYPE_OPERATOR &&
            t3 === TYPE_LEFTPARENS &&
            t4 === TYPE_BAREWORD)
        ) {
          if (pos > MAX_TOKENS) {
            tv[1]!.copyFrom(tv[MAX_TOKENS]!);
            pos = 2;
            left = 0;
          } else {
            pos = 1;
            left = 0;
          }
        }
      }

      if (!this.more || left >= MAX_TOKENS) {
        left = pos;
        break;
      }

      // get up to two tokens
      while (this.more && pos <= MAX_TOKENS && pos - left < 2) pos = this.fetch(pos);
      if (pos - left < 2) {
        left = pos;
        continue;
      }

      const a = tv[left]!;
      const b = tv[left + 1]!;
      const ta = a.type;
      const tb = b.type;

      // ---- two-token folds
      if (ta === TYPE_STRING && tb === TYPE_STRING) {
        // "foo" "bar" is valid SQL: keep the first
        pos -= 1;
        this.statsFolds += 1;
        continue;
      } else if (ta === TYPE_SEMICOLON && tb === TYPE_SEMICOLON) {
        pos -= 1;
        this.statsFolds += 1;
        continue;
      } else if ((ta === TYPE_OPERATOR || ta === TYPE_LOGIC_OPERATOR) && (isUnaryOp(b) || tb === TYPE_SQLTYPE)) {
        pos -= 1;
        this.statsFolds += 1;
        left = 0;
        continue;
      } else if (ta === TYPE_LEFTPARENS && isUnaryOp(b)) {
        pos -= 1;
        this.statsFolds += 1;
        if (left > 0) left -= 1;
        continue;
      } else if (this.mergeWords(a, b)) {
        pos -= 1;
        this.statsFolds += 1;
        if (left > 0) left -= 1;
        continue;
      } else if (
        ta === TYPE_SEMICOLON &&
        tb === TYPE_FUNCTION &&
        (b.val.charCodeAt(0) | 0x20) === 0x69 && // 'i' / 'I'
        (b.val.charCodeAt(1) | 0x20) === 0x66 // 'f' / 'F'
      ) {
        // T-SQL: "; IF 1=1 ..." -- IF as a control statement
        b.type = TYPE_TSQL;
        continue;
      } else if (
        (ta === TYPE_BAREWORD || ta === TYPE_VARIABLE) &&
        tb === TYPE_LEFTPARENS &&
        (wordEq('USER_ID', a.val, a.len) ||
          wordEq('USER_NAME', a.val, a.len) ||
          wordEq('DATABASE', a.val, a.len) ||
          wordEq('PASSWORD', a.val, a.len) ||
          wordEq('USER', a.val, a.len) ||
          wordEq('CURRENT_USER', a.val, a.len) ||
          wordEq('CURRENT_DATE', a.val, a.len) ||
          wordEq('CURRENT_TIME', a.val, a.len) ||
          wordEq('CURRENT_TIMESTAMP', a.val, a.len) ||
          wordEq('LOCALTIME', a.val, a.len) ||
          wordEq('LOCALTIMESTAMP', a.val, a.len))
      ) {
        // words that are column names or functions: followed by '(' they are functions
        a.type = TYPE_FUNCTION;
        continue;
      } else if (ta === TYPE_KEYWORD && (wordEq('IN', a.val, a.len) || wordEq('NOT IN', a.val, a.len))) {
        // IN ( ... is an operator; otherwise a nothing
        a.type = tb === TYPE_LEFTPARENS ? TYPE_OPERATOR : TYPE_BAREWORD;
        continue;
      } else if (ta === TYPE_OPERATOR && (wordEq('LIKE', a.val, a.len) || wordEq('NOT LIKE', a.val, a.len))) {
        // SELECT LIKE(... is a function
        if (tb === TYPE_LEFTPARENS) a.type = TYPE_FUNCTION;
      } else if (
        ta === TYPE_SQLTYPE &&
        (tb === TYPE_BAREWORD ||
          tb === TYPE_NUMBER ||
          tb === TYPE_SQLTYPE ||
          tb === TYPE_LEFTPARENS ||
          tb === TYPE_FUNCTION ||
          tb === TYPE_VARIABLE ||
          tb === TYPE_STRING)
      ) {
        a.copyFrom(b);
        pos -= 1;
        this.statsFolds += 1;
        left = 0;
        continue;
      } else if (ta === TYPE_COLLATE && tb === TYPE_BAREWORD) {
        // too many collation types: a bareword with '_' is taken as a type
        if (b.cval().indexOf('_') !== -1) {
          b.type = TYPE_SQLTYPE;
          left = 0;
        }
      } else if (ta === TYPE_BACKSLASH) {
        if (isArithmeticOp(b)) {
          // T-SQL parses '\%1' as '0 % 1'
          a.type = TYPE_NUMBER;
        } else {
          // and '\1' as '1'
          a.copyFrom(b);
          pos -= 1;
          this.statsFolds += 1;
        }
        left = 0;
        continue;
      } else if (ta === TYPE_LEFTPARENS && tb === TYPE_LEFTPARENS) {
        pos -= 1;
        left = 0;
        this.statsFolds += 1;
        continue;
      } else if (ta === TYPE_RIGHTPARENS && tb === TYPE_RIGHTPARENS) {
        pos -= 1;
        left = 0;
        this.statsFolds += 1;
        continue;
      } else if (ta === TYPE_LEFTBRACE && tb === TYPE_BAREWORD) {
        // MySQL/ODBC "{ foo expr }": "{``" is blacklisted; otherwise drop "{ foo"
        if (b.len === 0) {
          b.type = TYPE_EVIL;
          return left + 2;
        }
        left = 0;
        pos -= 2;
        this.statsFolds += 2;
        continue;
      } else if (tb === TYPE_RIGHTBRACE) {
        pos -= 1;
        left = 0;
        this.statsFolds += 1;
        continue;
      }

      // no two-token fold: get a third token
      while (this.more && pos <= MAX_TOKENS && pos - left < 3) pos = this.fetch(pos);
      if (pos - left < 3) {
        left = pos;
        continue;
      }

      const t0 = tv[left]!;
      const t1 = tv[left + 1]!;
      const t2 = tv[left + 2]!;
      const y0 = t0.type;
      const y1 = t1.type;
      const y2 = t2.type;

      // ---- three-token folds
      if (y0 === TYPE_NUMBER && y1 === TYPE_OPERATOR && y2 === TYPE_NUMBER) {
        pos -= 2;
        left = 0;
        continue;
      } else if (y0 === TYPE_OPERATOR && y1 !== TYPE_LEFTPARENS && y2 === TYPE_OPERATOR) {
        left = 0;
        pos -= 2;
        continue;
      } else if (y0 === TYPE_LOGIC_OPERATOR && y2 === TYPE_LOGIC_OPERATOR) {
        pos -= 2;
        left = 0;
        continue;
      } else if (
        y0 === TYPE_VARIABLE &&
        y1 === TYPE_OPERATOR &&
        (y2 === TYPE_VARIABLE || y2 === TYPE_NUMBER || y2 === TYPE_BAREWORD)
      ) {
        pos -= 2;
        left = 0;
        continue;
      } else if (
        (y0 === TYPE_BAREWORD || y0 === TYPE_NUMBER) &&
        y1 === TYPE_OPERATOR &&
        (y2 === TYPE_NUMBER || y2 === TYPE_BAREWORD)
      ) {
        pos -= 2;
        left = 0;
        continue;
      } else if (
        (y0 === TYPE_BAREWORD || y0 === TYPE_NUMBER || y0 === TYPE_VARIABLE || y0 === TYPE_STRING) &&
        y1 === TYPE_OPERATOR &&
        t1.cval() === '::' &&
        y2 === TYPE_SQLTYPE
      ) {
        pos -= 2;
        left = 0;
        this.statsFolds += 2;
        continue;
      } else if (
        (y0 === TYPE_BAREWORD || y0 === TYPE_NUMBER || y0 === TYPE_STRING || y0 === TYPE_VARIABLE) &&
        y1 === TYPE_COMMA &&
        (y2 === TYPE_NUMBER || y2 === TYPE_BAREWORD || y2 === TYPE_STRING || y2 === TYPE_VARIABLE)
      ) {
        pos -= 2;
        left = 0;
        continue;
      } else if (
        (y0 === TYPE_EXPRESSION || y0 === TYPE_GROUP || y0 === TYPE_COMMA) &&
        isUnaryOp(t1) &&
        y2 === TYPE_LEFTPARENS
      ) {
        // SELECT + (, LIMIT + ( : drop the unary operator
        t1.copyFrom(t2);
        pos -= 1;
        left = 0;
        continue;
      } else if (
        (y0 === TYPE_KEYWORD || y0 === TYPE_EXPRESSION || y0 === TYPE_GROUP) &&
        isUnaryOp(t1) &&
        (y2 === TYPE_NUMBER ||
          y2 === TYPE_BAREWORD ||
          y2 === TYPE_VARIABLE ||
          y2 === TYPE_STRING ||
          y2 === TYPE_FUNCTION)
      ) {
        // select - 1
        t1.copyFrom(t2);
        pos -= 1;
        left = 0;
        continue;
      } else if (
        y0 === TYPE_COMMA &&
        isUnaryOp(t1) &&
        (y2 === TYPE_NUMBER || y2 === TYPE_BAREWORD || y2 === TYPE_VARIABLE || y2 === TYPE_STRING)
      ) {
        // ", -1" -> ",1" and back up so "1,-1" folds to "1"
        t1.copyFrom(t2);
        left = 0;
        pos -= 3;
        continue;
      } else if (y0 === TYPE_COMMA && isUnaryOp(t1) && y2 === TYPE_FUNCTION) {
        // 1,-sin(1) -> 1,sin(1)
        t1.copyFrom(t2);
        pos -= 1;
        left = 0;
        continue;
      } else if (y0 === TYPE_BAREWORD && y1 === TYPE_DOT && y2 === TYPE_BAREWORD) {
        // databasename.table
        pos -= 2;
        left = 0;
        continue;
      } else if (y0 === TYPE_EXPRESSION && y1 === TYPE_DOT && y2 === TYPE_BAREWORD) {
        // select . `foo` -> select `foo`
        t1.copyFrom(t2);
        pos -= 1;
        left = 0;
        continue;
      } else if (y0 === TYPE_FUNCTION && y1 === TYPE_LEFTPARENS && y2 !== TYPE_RIGHTPARENS) {
        // USER() takes no arguments: USER(foo) is not the function
        if (wordEq('USER', t0.val, t0.len)) t0.type = TYPE_BAREWORD;
      }

      // no folding: the left-most token is final
      left += 1;
    }

    // with 4 or fewer tokens, a trailing comment is added back
    if (left < MAX_TOKENS && lastComment.type === TYPE_COMMENT) {
      tv[left]!.copyFrom(lastComment);
      left += 1;
    }
    // a 6th token may have been read to decide the type of the 5th
    if (left > MAX_TOKENS) left = MAX_TOKENS;
    return left;
  }

  // ---- fingerprint and decision ------------------------------------------------------------------

  /** libinjection_sqli_fingerprint: fold the input in the context given by flags; returns the fingerprint. */
  fingerprintFor(flags: number): string {
    this.reset(flags);
    const tv = this.tokenvec;
    const tlen = this.fold();

    // PHP magic: a trailing empty unclosed backtick is a comment
    if (tlen > 2) {
      const last = tv[tlen - 1]!;
      if (last.type === TYPE_BAREWORD && last.strOpen === CHAR_TICK_Q && last.len === 0 && last.strClose === CHAR_NULL) {
        last.type = TYPE_COMMENT;
      }
    }

    let fp = '';
    let evil = false;
    for (let i = 0; i < tlen; i++) {
      const t = tv[i]!.type;
      if (t === TYPE_EVIL) evil = true;
      fp += chr(t);
    }
    if (evil) {
      // unparsable (nested comments, MySQL conditional comments, ...): fingerprint "X"
      fp = 'X';
      tv[0]!.type = TYPE_EVIL;
      tv[0]!.val = 'X';
      tv[1]!.type = CHAR_NULL;
    }
    this.fingerprint = fp;
    return fp;
  }

  /** libinjection_sqli_check_fingerprint */
  checkFingerprint(): boolean {
    return this.blacklist() && this.notWhitelist();
  }

  /** libinjection_sqli_blacklist: is the fingerprint a known SQLi pattern? */
  blacklist(): boolean {
    if (this.fingerprint.length < 1 || !isFingerprint(this.fingerprint)) {
      this.reason = 1;
      return false;
    }
    return true;
  }

  /** libinjection_sqli_not_whitelist: true if a blacklisted fingerprint really is SQLi. */
  notWhitelist(): boolean {
    const fp = this.fingerprint;
    const tlen = fp.length;
    const tv = this.tokenvec;
    const s = this.s;

    // an ending comment with 'sp_password' hides the query from MS SQL's audit log
    if (tlen > 1 && fp.charCodeAt(tlen - 1) === TYPE_COMMENT && s.indexOf('sp_password') !== -1) {
      this.reason = 2;
      return true;
    }

    switch (tlen) {
      case 2: {
        // very small fingerprints are hard to tell from normal input
        if (fp.charCodeAt(1) === TYPE_UNION) {
          // "1 union" alone is too common; beep only with folding or comments
          this.reason = 3;
          return this.statsTokens !== 2;
        }
        // comment '#': too many false positives
        if (tv[1]!.val.charCodeAt(0) === 0x23) {
          this.reason = 4;
          return false;
        }
        // 'nc': only /* comments count as SQL
        if (tv[0]!.type === TYPE_BAREWORD && tv[1]!.type === TYPE_COMMENT && tv[1]!.val.charCodeAt(0) !== 0x2f) {
          this.reason = 5;
          return false;
        }
        // '1c' ending with /* is SQLi
        if (tv[0]!.type === TYPE_NUMBER && tv[1]!.type === TYPE_COMMENT && tv[1]!.val.charCodeAt(0) === 0x2f) {
          return true;
        }
        // '1c': base64-ish "1234-ABC--" is not SQLi, "1234--" is. Checks the original input at
        // index tokenvec[0].len, as libinjection does (assumes the number starts the input).
        if (tv[0]!.type === TYPE_NUMBER && tv[1]!.type === TYPE_COMMENT) {
          if (this.statsTokens > 2) {
            // folding happened: highly likely SQLi
            this.reason = 6;
            return true;
          }
          const n = tv[0]!.len;
          const ch = n < s.length ? s.charCodeAt(n) : 0;
          // signed char: bytes >= 0x80 are negative, so "<= 32" too
          if (ch <= 32 || ch >= 0x80) return true;
          const ch1 = n + 1 < s.length ? s.charCodeAt(n + 1) : 0;
          if (ch === 0x2f && ch1 === 0x2a) return true;
          if (ch === 0x2d && ch1 === 0x2d) return true;
          this.reason = 7;
          return false;
        }
        // '--' in plain text: only an input ending in '--' counts
        if (tv[1]!.len > 2 && tv[1]!.val.charCodeAt(0) === 0x2d) {
          this.reason = 8;
          return false;
        }
        break;
      }
      case 3: {
        if (fp === 'sos' || fp === 's&s') {
          // ...foo' + 'bar...: no opening quote, no closing quote
          if (tv[0]!.strOpen === CHAR_NULL && tv[2]!.strClose === CHAR_NULL && tv[0]!.strClose === tv[2]!.strOpen) {
            this.reason = 9;
            return true;
          }
          this.reason = 10;
          return false;
        } else if (fp === 's&n' || fp === 'n&1' || fp === '1&1' || fp === '1&v' || fp === '1&s') {
          // 'sexy and 17' is not SQLi, 'sexy and 17<18' is
          if (this.statsTokens === 3) {
            this.reason = 11;
            return false;
          }
        } else if (tv[1]!.type === TYPE_KEYWORD) {
          // only "INTO OUTFILE" / "INTO DUMPFILE" (MySQL) count
          if (tv[1]!.len < 5 || !startsWithUpper(tv[1]!.val, 'INTO')) {
            this.reason = 12;
            return false;
          }
        }
        break;
      }
      default:
        break;
    }
    return true;
  }

  /** lookup(LOOKUP_FINGERPRINT): the default fingerprint check. */
  private lookupFingerprint(): boolean {
    return this.checkFingerprint();
  }

  /** MySQL comments were seen: reparse in MySQL mode. */
  private reparseAsMysql(): boolean {
    return this.statsCommentDdx !== 0 || this.statsCommentHash !== 0;
  }

  /** libinjection_is_sqli: the input as-is, then as if inside '...' and "...". */
  isSqli(): boolean {
    const s = this.s;
    if (this.slen === 0) return false;

    this.fingerprintFor(FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
    if (this.lookupFingerprint()) return true;
    if (this.reparseAsMysql()) {
      this.fingerprintFor(FLAG_QUOTE_NONE | FLAG_SQL_MYSQL);
      if (this.lookupFingerprint()) return true;
    }

    if (s.indexOf("'") !== -1) {
      this.fingerprintFor(FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI);
      if (this.lookupFingerprint()) return true;
      if (this.reparseAsMysql()) {
        this.fingerprintFor(FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL);
        if (this.lookupFingerprint()) return true;
      }
    }

    if (s.indexOf('"') !== -1) {
      this.fingerprintFor(FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL);
      if (this.lookupFingerprint()) return true;
    }
    return false;
  }
}

/** cstrcasecmp(upper, val, upper.length) == 0: val starts with `upper`, ASCII case-insensitive. */
function startsWithUpper(val: string, upper: string): boolean {
  if (val.length < upper.length) return false;
  for (let i = 0; i < upper.length; i++) {
    let c = val.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== upper.charCodeAt(i)) return false;
  }
  return true;
}
