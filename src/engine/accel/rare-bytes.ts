// The "plain text" alphabet: bytes other than control characters and the punctuation attacks are
// made of (quotes, brackets, shell and SQL operators). Benign values (names, ids, numbers, e-mail
// addresses, header values) seldom hold any of them, and CRS's evasion-tolerant patterns
// (b["'\)\[\x5c]*u... for "bu", \$(?:...) for Mongo operators) only match text without them
// through their literal letters. A value without rare bytes can therefore be tested against a much
// sharper literal condition, derived from the pattern restricted to plain text (required-literals.ts).
const RARE_CHARS = '"\'()<>[]{}\\$|&;`';

/** 1 for every rare byte. */
export const RARE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 0x20; c++) t[c] = 1;
  t[0x7f] = 1;
  for (const ch of RARE_CHARS) t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** Whether `value` (a byte string: every char ≤ 0xff) holds a rare byte. */
export function hasRareByte(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || RARE[c] === 1) return true;
  }
  return false;
}
