// Byte-string helpers shared by the transformations.
// A "byte string" is a JS string whose char codes are all 0..255 (latin1, one char per byte).
// Decoders write into a Buffer and decode it once with toString('latin1'): no per-char string
// concatenation, and V8 keeps the result as a compact one-byte string.

/** C isspace() in the "C" locale: \t \n \v \f \r and space. */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** VALID_HEX(): [0-9A-Fa-f]. */
export function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** ISODIGIT(): [0-7]. */
export function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

/**
 * ModSecurity's xsingle2c(): one hex digit, computed with unsigned-char arithmetic and no validation
 * (callers that validated get the usual value; hexDecode relies on the garbage for non-hex input).
 */
export function hexDigit(c: number): number {
  return (c >= 0x41 ? (c & 0xdf) - 0x41 + 10 : c - 0x30) & 0xff;
}

/** ModSecurity's x2c(): two hex digits to a byte, same unchecked arithmetic. */
export function x2c(hi: number, lo: number): number {
  return ((hexDigit(hi) << 4) + hexDigit(lo)) & 0xff;
}

/** Four hex digits at input[at..at+3] (the HHHH of \\uHHHH / %uHHHH)? */
export function isHex4(input: string, at: number): boolean {
  return (
    at + 3 < input.length &&
    isHex(input.charCodeAt(at)) &&
    isHex(input.charCodeAt(at + 1)) &&
    isHex(input.charCodeAt(at + 2)) &&
    isHex(input.charCodeAt(at + 3))
  );
}

function isF(c: number): boolean {
  return c === 0x66 || c === 0x46;
}

/**
 * The byte ModSecurity keeps for a 16-bit escape whose four hex digits start at `at`: the low byte,
 * except that full-width ASCII (U+FF01-U+FF5E) is mapped back to ASCII by adding 0x20.
 */
export function unicodeEscapeByte(input: string, at: number): number {
  const b = x2c(input.charCodeAt(at + 2), input.charCodeAt(at + 3));
  return b > 0x00 && b < 0x5f && isF(input.charCodeAt(at)) && isF(input.charCodeAt(at + 1)) ? b + 0x20 : b;
}

/** Results up to this size are built in one shared scratch buffer; larger ones get their own. */
const SCRATCH_MAX = 16 * 1024;
let scratch = Buffer.allocUnsafe(1024);

/**
 * Output buffer for a decoder whose result is at most `maxLen` bytes, valid until the next call:
 * a decoder takes it, writes its bytes and turns them into a string (bufToString) before it
 * returns, and none calls another decoder in between, so one scratch serves them all without a
 * Buffer per transformed value.
 */
export function outBuffer(maxLen: number): Buffer {
  if (maxLen > SCRATCH_MAX) return Buffer.allocUnsafe(maxLen);
  if (maxLen > scratch.length) scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(maxLen, scratch.length * 2)));
  return scratch;
}

/** The first `len` bytes of `buf` as a byte string. */
export function bufToString(buf: Buffer, len: number): string {
  return buf.toString('latin1', 0, len);
}

/** Copies input[0..end) into buf (the unchanged prefix before the first byte a decoder rewrites). */
export function copyPrefix(input: string, buf: Buffer, end: number): number {
  if (end > 0) buf.write(input.slice(0, end), 0, end, 'latin1');
  return end;
}

/** A byte string as a Buffer (one byte per char). */
export function toBuffer(input: string): Buffer {
  return Buffer.from(input, 'latin1');
}
