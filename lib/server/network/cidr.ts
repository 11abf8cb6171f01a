/**
 * IPv4/IPv6 addresses and CIDR prefixes as bigints: parsing, formatting,
 * containment and overlap. Pure functions, no I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

/** An address with a prefix length: `10.1.2.1/24` keeps the host part in `addr`. */
export interface Cidr {
  family: Family;
  addr: bigint;
  prefix: number;
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);

/** Parses a bare IPv4 or IPv6 address; null when it is not one. */
export function parseIp(text: string): { family: Family; addr: bigint } | null {
  if (isIPv4(text)) {
    const n = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, addr: n };
  }
  if (!isIPv6(text)) return null;
  let s = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = parseIp(v4[1])!.addr;
    s = s.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  return { family: 6, addr: n };
}

/** Formats an address (IPv6 in its shortest form). */
export function formatIp(family: Family, addr: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((addr >> BigInt(112 - i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `ADDR/PREFIX`; null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return null;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return null;
  return { family: ip.family, addr: ip.addr, prefix };
}

/** The prefix mask of a CIDR. */
function mask(c: Pick<Cidr, 'family' | 'prefix'>): bigint {
  const b = BigInt(bits(c.family));
  const all = (1n << b) - 1n;
  return (all >> BigInt(c.prefix)) ^ all;
}

/** The network address (host bits cleared). */
export function networkOf(c: Cidr): bigint {
  return c.addr & mask(c);
}

/** The last address of the prefix (IPv4 broadcast). */
export function lastOf(c: Cidr): bigint {
  return networkOf(c) | (mask(c) ^ ((1n << BigInt(bits(c.family))) - 1n));
}

/** `10.1.2.0/24` for `10.1.2.1/24`. */
export function formatNetwork(c: Cidr): string {
  return `${formatIp(c.family, networkOf(c))}/${c.prefix}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.addr)}/${c.prefix}`;
}

/** Whether two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefix <= b.prefix ? a : b;
  return (networkOf(a) & mask(shorter)) === (networkOf(b) & mask(shorter));
}

/** Whether `ip` lies inside the prefix. */
export function contains(c: Cidr, ip: { family: Family; addr: bigint }): boolean {
  return c.family === ip.family && (ip.addr & mask(c)) === networkOf(c);
}

/** The address `offset` from the network address (negative: from the end). */
export function nthAddress(c: Cidr, offset: number): bigint {
  return offset >= 0 ? networkOf(c) + BigInt(offset) : lastOf(c) + BigInt(offset + 1);
}
