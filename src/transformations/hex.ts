// t:hexEncode, t:hexDecode, t:sqlHexDecode (ModSecurity v3).
import { bufToString, copyPrefix, isHex, outBuffer, toBuffer, x2c } from './bytes.js';

/** Lower-case hex of every byte. */
export function hexEncode(input: string): string {
  return toBuffer(input).toString('hex');
}

/**
 * Pairs of characters to bytes with ModSecurity's unchecked x2c() arithmetic (non-hex characters
 * are NOT rejected: "0z" gives 0x23); an odd trailing character is dropped.
 */
export function hexDecode(input: string): string {
  const n = input.length;
  const out = outBuffer(n >> 1);
  let d = 0;
  for (let i = 0; i + 1 < n; i += 2) out[d++] = x2c(input.charCodeAt(i), input.charCodeAt(i + 1));
  return bufToString(out, d);
}

/** True when a SQL hex literal ("0x"/"0X" and at least two hex digits) starts at i. */
function hexLiteralAt(input: string, i: number): boolean {
  if (i + 3 >= input.length || input.charCodeAt(i) !== 0x30) return false;
  const x = input.charCodeAt(i + 1);
  return (x === 0x78 || x === 0x58) && isHex(input.charCodeAt(i + 2)) && isHex(input.charCodeAt(i + 3));
}

/** SQL hex literals 0xHHHH... are replaced by their bytes; everything else is kept. */
export function sqlHexDecode(input: string): string {
  let first = input.indexOf('0');
  while (first >= 0 && !hexLiteralAt(input, first)) first = input.indexOf('0', first + 1);
  if (first < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, first);
  let i = first;
  while (i < n) {
    if (hexLiteralAt(input, i)) {
      i += 2; // skip "0x"
      do {
        out[d++] = x2c(input.charCodeAt(i), input.charCodeAt(i + 1));
        i += 2;
      } while (i + 1 < n && isHex(input.charCodeAt(i)) && isHex(input.charCodeAt(i + 1)));
    } else {
      out[d++] = input.charCodeAt(i++);
    }
  }
  return bufToString(out, d);
}
