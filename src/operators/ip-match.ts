// @ipMatch (comma-separated addresses / CIDR blocks) and @ipMatchFromFile / @ipMatchF (one or
// more per line, '#' comments). IPv4 and IPv6 are separate families, as in ModSecurity: an IPv4
// entry never matches an IPv6 input (including ::ffff:a.b.c.d) and vice versa.
//
// Lookup: entries are grouped by prefix length; an input is masked once per distinct length and
// looked up in a Set, so the cost does not grow with the number of entries.
import type { Operator, OperatorFactory, OperatorInit } from './types.js';
import { dataFileNames, preparedOperator, readDataFile } from './util.js';

/** inet_pton(AF_INET): four decimal octets, no leading zeros. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** inet_pton(AF_INET6): hex groups, at most one "::", optional dotted IPv4 tail. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length === 0 || s.length > 45) return null;
  let tail: Uint8Array | null = null;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > 0) {
    tail = parseIPv4(s.slice(lastColon + 1));
    if (tail === null) return null;
    text = s.slice(0, lastColon + 1) + '0:0'; // placeholder groups, overwritten below
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): string[] | null => {
    if (part === '') return [];
    const g = part.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : null;
  };
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || rest === null) return null;
  const total = head.length + rest.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const groups = [...head, ...new Array<string>(8 - total).fill('0'), ...rest];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (tail !== null) out.set(tail, 12);
  return out;
}

/** The address with every bit after `prefix` cleared, as a lookup key. */
function maskedKey(addr: Uint8Array, prefix: number): string {
  let key = '';
  for (let i = 0; i < addr.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    key += String.fromCharCode(addr[i]! & ((0xff << (8 - bits)) & 0xff));
  }
  return key;
}

class AddressFamilySet {
  private readonly byPrefix = new Map<number, Set<string>>();
  private prefixes: number[] = [];

  add(addr: Uint8Array, prefix: number): void {
    let set = this.byPrefix.get(prefix);
    if (set === undefined) {
      set = new Set();
      this.byPrefix.set(prefix, set);
      this.prefixes = [...this.byPrefix.keys()].sort((a, b) => b - a);
    }
    set.add(maskedKey(addr, prefix));
  }

  has(addr: Uint8Array): boolean {
    for (const p of this.prefixes) if (this.byPrefix.get(p)!.has(maskedKey(addr, p))) return true;
    return false;
  }

  get size(): number {
    return this.prefixes.length;
  }
}

/** A set of IPv4/IPv6 addresses and networks. */
export class IpSet {
  private readonly v4 = new AddressFamilySet();
  private readonly v6 = new AddressFamilySet();

  /** Adds "a.b.c.d", "a.b.c.d/n", an IPv6 address or "addr6/n"; throws on anything else. */
  add(entry: string): void {
    const slash = entry.indexOf('/');
    const addrText = slash < 0 ? entry : entry.slice(0, slash);
    const v6 = addrText.includes(':');
    const addr = v6 ? parseIPv6(addrText) : parseIPv4(addrText);
    if (addr === null) throw new Error(`invalid IP address '${entry}'`);
    const max = v6 ? 128 : 32;
    let prefix = max;
    if (slash >= 0) {
      const maskText = entry.slice(slash + 1);
      prefix = /^[0-9]{1,3}$/.test(maskText) ? Number(maskText) : NaN;
      if (!(prefix >= 0 && prefix <= max)) throw new Error(`invalid network mask in '${entry}' (0..${max})`);
    }
    (v6 ? this.v6 : this.v4).add(addr, prefix);
  }

  /** Adds a comma-separated list (spaces around entries are tolerated; empty items skipped). */
  addList(list: string): void {
    for (const item of list.split(',')) {
      const entry = item.trim();
      if (entry.length > 0) this.add(entry);
    }
  }

  /** True when the input is an address covered by the set. Non-addresses never match. */
  matches(input: string): boolean {
    if (input.includes(':')) {
      const a = parseIPv6(input);
      return a !== null && this.v6.has(a);
    }
    const a = parseIPv4(input);
    return a !== null && this.v4.has(a);
  }

  get isEmpty(): boolean {
    return this.v4.size === 0 && this.v6.size === 0;
  }
}

function setFromList(list: string): IpSet {
  const set = new IpSet();
  set.addList(list);
  if (set.isEmpty) throw new Error('no IP address or network given');
  return set;
}

export const ipMatchFactory: OperatorFactory = (init): Operator =>
  preparedOperator(init, setFromList, (set, _tx, input) => set.matches(input));

/** Data files: addresses/networks, comma-separated or one per line; '#' starts a comment. */
export function loadIpFiles(init: OperatorInit): IpSet {
  const set = new IpSet();
  for (const name of dataFileNames(init.arg)) {
    for (const line of readDataFile(init.baseDir, name).split('\n')) {
      const hash = line.indexOf('#');
      set.addList(hash < 0 ? line : line.slice(0, hash));
    }
  }
  return set;
}

export const ipMatchFromFileFactory: OperatorFactory = (init): Operator => {
  const set = loadIpFiles(init);
  return { evaluate: (_tx, input) => set.matches(input) };
};
