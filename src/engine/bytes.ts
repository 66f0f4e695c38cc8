// Byte strings: the engine works on JS strings holding one char per byte (latin1),
// so every operator and transformation sees exactly the bytes that were sent.

const NON_ASCII = /[^\x00-\x7f]/;

/** Converts text decoded as UTF-8 (e.g. by protobufjs) back to its byte string. */
export function utf8ToBytes(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Buffer → byte string. */
export function bufferToBytes(buf: Buffer): string {
  return buf.toString('latin1');
}

/** Byte string → readable UTF-8 text for logs/events (invalid sequences become U+FFFD). */
export function bytesToUtf8(bytes: string): string {
  if (!NON_ASCII.test(bytes)) return bytes;
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** C atoi(): optional sign and leading digits; anything else is 0. Used for numeric operators/setvar. */
export function atoi(s: string): number {
  let i = 0;
  const n = s.length;
  while (i < n && (s.charCodeAt(i) === 32 || (s.charCodeAt(i) >= 9 && s.charCodeAt(i) <= 13))) i++;
  let neg = false;
  if (i < n && (s.charCodeAt(i) === 45 || s.charCodeAt(i) === 43)) {
    neg = s.charCodeAt(i) === 45;
    i++;
  }
  let v = 0;
  while (i < n) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    i++;
  }
  return neg ? -v : v;
}
