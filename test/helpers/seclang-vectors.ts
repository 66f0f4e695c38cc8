// Decoding of the secrules-language-tests vectors exactly as ModSecurity's C test harness does:
// - a JSON string value is taken as its UTF-8 bytes up to the first NUL byte;
// - json2bin(): every literal \xHH (sscanf %x), then every literal \uHHHH (sscanf %4x), is replaced,
//   all occurrences at once, by the low byte of its value.

/** A JSON string value as the C harness sees it: UTF-8 bytes up to the first NUL. */
export function cString(value: string): string {
  const bytes = Buffer.from(value, 'utf8').toString('latin1');
  const nul = bytes.indexOf('\0');
  return nul < 0 ? bytes : bytes.slice(0, nul);
}

/** sscanf("%x") on the captured digits: the leading hex digits, or undefined when there are none. */
function scanHex(digits: string): number | undefined {
  const m = /^[0-9a-fA-F]+/.exec(digits);
  return m ? parseInt(m[0], 16) : undefined;
}

/** The harness's replaceAll(): erase + insert one char, scanning again from the same position. */
function replaceAllC(s: string, search: string, ch: string): string {
  let pos = 0;
  for (;;) {
    pos = s.indexOf(search, pos);
    if (pos < 0) return s;
    s = s.slice(0, pos) + ch + s.slice(pos + search.length);
  }
}

export function json2bin(s: string): string {
  let p = 0; // sscanf failures leave the (reused) variable unchanged
  for (const re of [/\\x([a-zA-Z0-9]{2})/, /\\u([a-zA-Z0-9]{4})/]) {
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      p = scanHex(m[1]!) ?? p;
      s = replaceAllC(s, m[0], String.fromCharCode(p & 0xff));
    }
  }
  return s;
}
