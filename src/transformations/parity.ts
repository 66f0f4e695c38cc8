// t:parityEven7bit / t:parityOdd7bit / t:parityZero7bit (ModSecurity v3). The parity is computed
// over all 8 bits of the input byte (as the C code does), then written into bit 7.

/** 1 when the byte has an odd number of set bits. */
function oddParity(c: number): number {
  return (0x6996 >> ((c ^ (c >> 4)) & 0xf)) & 1;
}

function mapBytes(input: string, f: (c: number) => number): string {
  const buf = Buffer.from(input, 'latin1');
  let changed = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    const m = f(c);
    if (m !== c) {
      buf[i] = m;
      changed = true;
    }
  }
  return changed ? buf.toString('latin1') : input;
}

export function parityEven7bit(input: string): string {
  return mapBytes(input, (c) => (oddParity(c) ? c | 0x80 : c & 0x7f));
}

export function parityOdd7bit(input: string): string {
  return mapBytes(input, (c) => (oddParity(c) ? c & 0x7f : c | 0x80));
}

export function parityZero7bit(input: string): string {
  return mapBytes(input, (c) => c & 0x7f);
}
