// JSON request body processor, naming arguments as ModSecurity v3 does
// (src/request_body_processor/json.cc, yajl callbacks):
//   - the top-level container is named "json"; a key inside an object adds ".key";
//   - an array adds ".array_<n>" (n counts the array's elements, scalars and containers alike),
//     so {"a":[1,{"b":2}]} gives json.a.array_0=1 and json.a.array_1.b=2, [1,2] gives
//     json.array_0 / json.array_1, and a top-level scalar is the single argument "json";
//   - an empty key is "empty-key" (inside an object), nothing inside an array;
//   - values: strings decoded (escapes → UTF-8 bytes), numbers as written, true/false, null → "";
//   - empty objects/arrays produce nothing.
// Tokenizer: our own, iterative (an explicit container stack, no recursion) and single-pass over
// the byte string, with yajl's grammar (no comments, no trailing garbage, one top-level value,
// yajl's loose UTF-8 check in strings) and yajl's error texts plus the byte offset.
// Limits: SecRequestBodyJsonDepthLimit (containers nested deeper than the limit → "JSON depth
// limit exceeded"), SecArgumentsLimit (stop with an error when an argument is refused).
// Arguments added before an error stay. A body cut by Envoy (bodyPartial) ends without error.
import type { Transaction } from '../engine/transaction.js';
import { yajlUtf8 } from './utf8.js';

export interface JsonParseOptions {
  /** Maximum container nesting (SecRequestBodyJsonDepthLimit); <= 0 means no limit. */
  maxDepth: number;
  /** The body was truncated upstream: running out of input is not an error. */
  partial: boolean;
}

/** Receives each argument; returning false stops parsing (limit reached). */
export type JsonArgSink = (name: string, value: string) => boolean;

export const JSON_ERROR_PREFIX = 'JSON parsing error: ';
export const JSON_DEPTH_ERROR = 'JSON depth limit exceeded';

interface Container {
  isArray: boolean;
  /** Path up to and including this container's own name (e.g. "json.a"). */
  base: string;
  /** Elements seen so far (arrays only). */
  counter: number;
}

class JsonError {
  constructor(
    readonly message: string,
    readonly offset: number,
    readonly eof = false,
  ) {}
}

// State after a value / token: what the grammar accepts next.
const S_VALUE = 0; // any value (top level, after ':' or ',' in an array)
const S_ARRAY_FIRST = 1; // a value or ']'
const S_OBJ_FIRST = 2; // a key or '}'
const S_OBJ_KEY = 3; // a key (after ',')
const S_COLON = 4; // ':'
const S_AFTER = 5; // ',' or the closing bracket of the current container
const S_DONE = 6; // top-level value complete: only whitespace may follow

function isWs(c: number): boolean {
  // yajl skips \t \n \v \f \r and space.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses a JSON byte string, reporting arguments to `sink`. Returns null on success or the
 * error text (without the "JSON parsing error: " prefix).
 */
export function parseJson(body: string, opts: JsonParseOptions, sink: JsonArgSink): string | null {
  const n = body.length;
  const stack: Container[] = [];
  let state = S_VALUE;
  let key = '';
  let haveKey = false;
  let i = 0;

  /** Name for the next value/container, consuming the current key (getCurrentKey()). */
  const nextName = (): string => {
    const top = stack[stack.length - 1];
    if (top === undefined) return 'json';
    const prefix = top.isArray ? `${top.base}.array_${top.counter}` : `${top.base}.`;
    if (top.isArray) return prefix;
    const k = haveKey && key.length > 0 ? key : 'empty-key';
    key = '';
    haveKey = false;
    return prefix + k;
  };

  /** After a complete value (scalar or closed container) in the current context. */
  const valueDone = (): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      state = S_DONE;
      return;
    }
    if (top.isArray) top.counter++;
    state = S_AFTER;
  };

  const emit = (value: string): void => {
    if (!sink(nextName(), value)) throw new LimitStop();
    valueDone();
  };

  try {
    while (true) {
      // skip whitespace
      let c = 0;
      while (i < n && isWs((c = body.charCodeAt(i)))) i++;
      if (i >= n) {
        if (state === S_DONE) return null;
        throw new JsonError('parse error: premature EOF', n, true);
      }
      if (state === S_DONE) throw new JsonError('parse error: trailing garbage', i);

      if (state === S_COLON) {
        if (c !== 0x3a) throw new JsonError("parse error: object key and value must be separated by a colon (':')", i);
        i++;
        state = S_VALUE;
        continue;
      }
      if (state === S_AFTER) {
        const top = stack[stack.length - 1]!;
        if (c === 0x2c) {
          i++;
          state = top.isArray ? S_VALUE : S_OBJ_KEY;
          continue;
        }
        if ((top.isArray && c === 0x5d) || (!top.isArray && c === 0x7d)) {
          i++;
          stack.pop();
          valueDone();
          continue;
        }
        if (c === 0x2f) throw lexComment(i);
        throw new JsonError(
          top.isArray ? "parse error: after array element, I expect ',' or ']'" : "parse error: after key and value, inside map, I expect ',' or '}'",
          i,
        );
      }
      if (state === S_OBJ_FIRST || state === S_OBJ_KEY) {
        if (c === 0x7d && state === S_OBJ_FIRST) {
          i++;
          stack.pop();
          valueDone();
          continue;
        }
        if (c !== 0x22) {
          if (c === 0x2f) throw lexComment(i);
          throw new JsonError('parse error: invalid object key (must be a string)', i);
        }
        const r = readString(body, i + 1);
        if (r.eof) throw new JsonError('parse error: premature EOF', n, true);
        key = r.value;
        haveKey = true;
        i = r.end;
        state = S_COLON;
        continue;
      }

      // S_VALUE or S_ARRAY_FIRST
      if (c === 0x5d && state === S_ARRAY_FIRST) {
        i++;
        stack.pop();
        valueDone();
        continue;
      }
      switch (c) {
        case 0x7b: // {
        case 0x5b: {
          // [
          const isArray = c === 0x5b;
          // The container's path: "json" at the top, "<parent>.<key>" in an object, the
          // parent's "<path>.array_<n>" in an array (yajl_start_map/array + getCurrentKey).
          stack.push({ isArray, base: nextName(), counter: 0 });
          if (opts.maxDepth > 0 && stack.length > opts.maxDepth) throw new JsonError(JSON_DEPTH_ERROR, i, false);
          i++;
          state = isArray ? S_ARRAY_FIRST : S_OBJ_FIRST;
          continue;
        }
        case 0x22: {
          const r = readString(body, i + 1);
          if (r.eof) {
            // Cut inside a string: a partial body still hands over what was there.
            if (opts.partial) {
              sink(nextName(), r.value);
              return null;
            }
            throw new JsonError('parse error: premature EOF', n, true);
          }
          i = r.end;
          emit(r.value);
          continue;
        }
        case 0x74: // t
          i = literal(body, i, 'true');
          emit('true');
          continue;
        case 0x66: // f
          i = literal(body, i, 'false');
          emit('false');
          continue;
        case 0x6e: // n
          i = literal(body, i, 'null');
          emit('');
          continue;
        case 0x2f:
          throw lexComment(i);
        default:
          if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
            const end = readNumber(body, i);
            emit(body.slice(i, end));
            i = end;
            continue;
          }
          if (c === 0x7d || c === 0x5d || c === 0x2c || c === 0x3a) {
            throw new JsonError('parse error: unallowed token at this point in JSON text', i);
          }
          throw new JsonError('lexical error: invalid char in json text.', i);
      }
    }
  } catch (e) {
    if (e instanceof LimitStop) return 'arguments limit exceeded';
    if (!(e instanceof JsonError)) throw e;
    if (e.eof && opts.partial) return null;
    if (e.message === JSON_DEPTH_ERROR) return JSON_DEPTH_ERROR;
    return `${e.message} (at byte offset ${e.offset})`;
  }
}

class LimitStop {}

function lexComment(at: number): JsonError {
  return new JsonError('lexical error: probable comment found in input text, comments are not enabled.', at);
}

function literal(body: string, i: number, word: string): number {
  const n = body.length;
  for (let k = 1; k < word.length; k++) {
    if (i + k >= n) throw new JsonError('parse error: premature EOF', n, true);
    if (body.charCodeAt(i + k) !== word.charCodeAt(k)) throw new JsonError('lexical error: invalid string in json text.', i);
  }
  return i + word.length;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** yajl's number lexer: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; returns the end index. */
function readNumber(body: string, start: number): number {
  const n = body.length;
  let i = start;
  const eof = (): never => {
    throw new JsonError('parse error: premature EOF', n, true);
  };
  if (body.charCodeAt(i) === 0x2d) {
    i++;
    if (i >= n) eof();
  }
  let c = body.charCodeAt(i);
  if (c === 0x30) i++;
  else if (isDigit(c)) while (i < n && isDigit(body.charCodeAt(i))) i++;
  else throw new JsonError('lexical error: malformed number, a digit is required after the minus sign.', i);
  if (i < n && body.charCodeAt(i) === 0x2e) {
    i++;
    if (i >= n) eof();
    if (!isDigit(body.charCodeAt(i))) throw new JsonError('lexical error: malformed number, a digit is required after the decimal point.', i);
    while (i < n && isDigit(body.charCodeAt(i))) i++;
  }
  if (i < n && (body.charCodeAt(i) | 0x20) === 0x65) {
    i++;
    if (i >= n) eof();
    c = body.charCodeAt(i);
    if (c === 0x2b || c === 0x2d) {
      i++;
      if (i >= n) eof();
    }
    if (!isDigit(body.charCodeAt(i))) throw new JsonError('lexical error: malformed number, a digit is required after the exponent.', i);
    while (i < n && isDigit(body.charCodeAt(i))) i++;
  }
  return i;
}

interface StringResult {
  value: string;
  /** Index just past the closing quote. */
  end: number;
  /** Input ended inside the string (value holds what was read). */
  eof: boolean;
}

/**
 * Reads a string body starting after the opening quote. Bytes are copied as they are (the
 * value is a byte string); escapes are decoded to UTF-8 bytes as yajl_string_decode does.
 */
function readString(body: string, start: number): StringResult {
  const n = body.length;
  let out = '';
  let seg = start;
  let i = start;
  while (i < n) {
    const c = body.charCodeAt(i);
    if (c === 0x22) {
      out += body.slice(seg, i);
      return { value: out, end: i + 1, eof: false };
    }
    if (c === 0x5c) {
      out += body.slice(seg, i);
      if (i + 1 >= n) return { value: out, end: n, eof: true };
      const e = body.charCodeAt(i + 1);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const cp = readHex4(body, i + 2);
          if (cp === -2) return { value: out, end: n, eof: true };
          let code = cp;
          let len = 6;
          if ((code & 0xfc00) === 0xd800) {
            // High surrogate: yajl combines it with a following \uXXXX, else emits "?".
            if (i + 6 >= n || (body.charCodeAt(i + 6) === 0x5c && i + 7 >= n)) return { value: out, end: n, eof: true };
            if (body.charCodeAt(i + 6) === 0x5c && body.charCodeAt(i + 7) === 0x75) {
              const low = readHex4(body, i + 8);
              if (low === -2) return { value: out, end: n, eof: true };
              code = ((code & 0x3f) << 10) | ((((code >> 6) & 0xf) + 1) << 16) | (low & 0x3ff);
              len = 12;
              out += yajlUtf8(code);
            } else {
              out += '?';
            }
          } else {
            out += yajlUtf8(code);
          }
          i += len;
          seg = i;
          continue;
        }
        default:
          throw new JsonError('lexical error: invalid escaped character in string.', i + 1);
      }
      i += 2;
      seg = i;
      continue;
    }
    if (c < 0x20) throw new JsonError('lexical error: invalid character inside string.', i);
    if (c < 0x80) {
      i++;
      continue;
    }
    // yajl_lex_utf8_char: lead byte decides the length, continuation bytes must be 10xxxxxx.
    let need: number;
    if (c >> 5 === 0x6) need = 1;
    else if (c >> 4 === 0xe) need = 2;
    else if (c >> 3 === 0x1e) need = 3;
    else throw new JsonError('lexical error: invalid bytes in UTF8 string.', i);
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { value: out + body.slice(seg, i), end: n, eof: true };
      if (body.charCodeAt(i + k) >> 6 !== 2) throw new JsonError('lexical error: invalid bytes in UTF8 string.', i);
    }
    i += need + 1;
  }
  return { value: out + body.slice(seg, n), end: n, eof: true };
}

/** Four hex digits at `at`: the value, -2 when the input ends first; throws on a non-hex char. */
function readHex4(body: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    if (at + k >= body.length) return -2;
    const h = hexVal(body.charCodeAt(at + k));
    if (h < 0) throw new JsonError("lexical error: invalid (non-hex) character occurs after '\\u' inside string.", at + k);
    v = v * 16 + h;
  }
  return v;
}

/** The JSON body processor (ctl:requestBodyProcessor=JSON). */
export function processJson(tx: Transaction, body: string): string | null {
  let refused = false;
  const err = parseJson(body, { maxDepth: tx.ruleset.jsonDepthLimit, partial: tx.request.bodyPartial }, (name, value) => {
    if (tx.addArgument('POST', name, value)) return true;
    refused = true;
    return false;
  });
  if (err === null) return null;
  if (refused) return `${JSON_ERROR_PREFIX}SecArgumentsLimit (${tx.ruleset.argumentsLimit}) exceeded`;
  return JSON_ERROR_PREFIX + err;
}
