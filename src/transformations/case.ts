// t:lowercase / t:uppercase: C tolower()/toupper() in the C locale, i.e. ASCII letters only.
// (String.prototype.toLowerCase would also fold latin1 letters such as 0xC9, which ModSecurity does not.)
import { toBuffer } from './bytes.js';

function firstInRange(input: string, lo: number, hi: number): number {
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c >= lo && c <= hi) return i;
  }
  return -1;
}

function flipAscii(input: string, from: number, lo: number, hi: number): string {
  const buf = toBuffer(input);
  for (let i = from; i < buf.length; i++) {
    const c = buf[i]!;
    if (c >= lo && c <= hi) buf[i] = c ^ 0x20;
  }
  return buf.toString('latin1');
}

/** No char is above 0x7f: then String's own case mapping is the C locale's (and needs no Buffer). */
function isAscii(input: string): boolean {
  for (let i = 0; i < input.length; i++) if (input.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function lowercase(input: string): string {
  const i = firstInRange(input, 0x41, 0x5a);
  if (i < 0) return input;
  return isAscii(input) ? input.toLowerCase() : flipAscii(input, i, 0x41, 0x5a);
}

export function uppercase(input: string): string {
  const i = firstInRange(input, 0x61, 0x7a);
  if (i < 0) return input;
  return isAscii(input) ? input.toUpperCase() : flipAscii(input, i, 0x61, 0x7a);
}
