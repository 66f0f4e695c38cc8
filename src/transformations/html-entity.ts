// t:htmlEntityDecode, as ModSecurity v3 (current master, after GHSA-cxqf-vgrr-xxrv):
// - &#DDD; and &#xHH; with any number of digits, value converted like strtol() then cast to a byte
//   (so values above LONG_MAX saturate to 0xFF); the ';' is optional;
// - named entities from a fixed ASCII-only table, matched case-insensitively on the WHOLE
//   alphanumeric token (no prefix matching: "&ltest;" stays as is);
// - anything else is copied verbatim.
import { bufToString, copyPrefix, isHex, outBuffer } from './bytes.js';

const NBSP = 0xa0;

const NAMED: ReadonlyMap<string, number> = new Map<string, number>([
  ['amp', 0x26], ['apos', 0x27], ['ast', 0x2a], ['bsol', 0x5c], ['caret', 0x5e],
  ['colon', 0x3a], ['comma', 0x2c], ['commat', 0x40], ['dollar', 0x24], ['equals', 0x3d],
  ['grave', 0x60], ['gt', 0x3e], ['hyphen', 0x2d], ['lbrace', 0x7b], ['lbrack', 0x5b],
  ['lowbar', 0x5f], ['lpar', 0x28], ['lt', 0x3c], ['nbsp', NBSP], ['num', 0x23],
  ['percnt', 0x25], ['period', 0x2e], ['plus', 0x2b], ['quest', 0x3f], ['quot', 0x22],
  ['rbrace', 0x7d], ['rbrack', 0x5d], ['rpar', 0x29], ['semi', 0x3b], ['sol', 0x2f],
  ['tilde', 0x7e], ['verbar', 0x7c],
]);
const LONGEST_NAME = 6;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlnum(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const LONG_MAX = 0x7fffffffffffffffn;

/** (unsigned char) strtol(digits, NULL, radix) for a non-empty run of valid digits. */
function strtolByte(input: string, start: number, end: number, radix: 10 | 16): number {
  while (start < end - 1 && input.charCodeAt(start) === 0x30) start++; // leading zeros are irrelevant
  const digits = input.slice(start, end);
  if (digits.length <= (radix === 10 ? 15 : 13)) return parseInt(digits, radix) & 0xff; // exact in a double
  const v = BigInt(radix === 10 ? digits : '0x' + digits);
  return v > LONG_MAX ? 0xff : Number(v & 0xffn);
}

export function htmlEntityDecode(input: string): string {
  const first = input.indexOf('&');
  if (first < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, first);
  let i = first;
  while (i < n) {
    let copy = 1;
    if (input.charCodeAt(i) === 0x26 /* & */ && i + 1 < n) {
      let j = i + 1;
      if (input.charCodeAt(j) === 0x23 /* # */) {
        copy++;
        if (j + 1 < n) {
          j++;
          const x = input.charCodeAt(j);
          if (x === 0x78 || x === 0x58) {
            copy++;
            if (j + 1 < n) {
              j++;
              const k = j;
              while (j < n && isHex(input.charCodeAt(j))) j++;
              if (j > k) {
                out[d++] = strtolByte(input, k, j, 16);
                i = j < n && input.charCodeAt(j) === 0x3b ? j + 1 : j;
                continue;
              }
            }
          } else {
            const k = j;
            while (j < n && isDigit(input.charCodeAt(j))) j++;
            if (j > k) {
              out[d++] = strtolByte(input, k, j, 10);
              i = j < n && input.charCodeAt(j) === 0x3b ? j + 1 : j;
              continue;
            }
          }
        }
      } else {
        const k = j;
        while (j < n && isAlnum(input.charCodeAt(j))) j++;
        if (j > k) {
          const decoded = j - k <= LONGEST_NAME ? NAMED.get(input.slice(k, j).toLowerCase()) : undefined;
          if (decoded === undefined) {
            copy = j - k + 1; // unknown entity: copy '&' and the name
          } else {
            out[d++] = decoded;
            i = j < n && input.charCodeAt(j) === 0x3b ? j + 1 : j;
            continue;
          }
        }
      }
    }
    for (let z = 0; z < copy; z++) out[d++] = input.charCodeAt(i++);
  }
  return bufToString(out, d);
}
