/**
 * Answer checks of interactive `incus admin init`, worded as Incus's
 * shared/validate functions it calls (each returns the reason to refuse,
 * or null).
 */
import { isIP, isIPv4 } from 'node:net';

/** validate.IsInterfaceName. */
export function interfaceNameProblem(v: string): string | null {
  if (v.length < 2) return 'Network interface is too short (minimum 2 characters)';
  if (v.length > 15) return 'Network interface is too long (maximum 15 characters)';
  if (!/^[-_a-zA-Z0-9.]+$/.test(v)) return 'Network interface contains invalid characters';
  return null;
}

/** An address as a number and its width in bits (IPv4 in IPv6 form stays IPv4, as Go's To4). */
function addressBits(ip: string): { value: bigint; bits: number } {
  if (isIPv4(ip)) return { value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), bits: 32 };
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return addressBits(mapped[1]!);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parts = (s: string | undefined): string[] => (s ? s.split(':') : []);
  let groups = parts(head);
  let rest = parts(tail);
  // A trailing dotted quad counts as two groups.
  const quad = (g: string[]): string[] => {
    const last = g[g.length - 1];
    if (!last || !isIPv4(last)) return g;
    const n = last.split('.').map(Number);
    return [...g.slice(0, -1), ((n[0]! << 8) | n[1]!).toString(16), ((n[2]! << 8) | n[3]!).toString(16)];
  };
  if (tail === undefined) groups = quad(groups);
  else rest = quad(rest);
  const all = tail === undefined ? groups : [...groups, ...Array<string>(8 - groups.length - rest.length).fill('0'), ...rest];
  return { value: all.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n), bits: 128 };
}

/** Go's net.ParseCIDR: the address and prefix length, or null when `v` is no CIDR. */
function parseCidr(v: string): { ip: string; prefix: number } | null {
  const slash = v.indexOf('/');
  if (slash < 0) return null;
  const ip = v.slice(0, slash);
  const len = v.slice(slash + 1);
  const family = isIP(ip);
  if (family === 0 || !/^\d{1,3}$/.test(len)) return null;
  const prefix = Number(len);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { ip, prefix };
}

/** validate.IsNetworkAddressCIDRV4 / V6 (allowSingle false): a CIDR of that family that is not the network address itself. */
function cidrProblem(v: string, family: 4 | 6): string | null {
  const c = parseCidr(v);
  if (!c) return `invalid CIDR address: ${v}`;
  const { value, bits } = addressBits(c.ip);
  if ((bits === 32) !== (family === 4)) return `Not an IPv${family} address ${JSON.stringify(v)}`;
  const hostBits = BigInt(bits - c.prefix);
  if (((value >> hostBits) << hostBits) === value) return `Not a usable IPv${family} address ${JSON.stringify(v)}`;
  return null;
}

/** The IPv4 question's check: auto, none, or a usable IPv4 CIDR. */
export function ipv4AnswerProblem(v: string): string | null {
  return ['auto', 'none', ''].includes(v) ? null : cidrProblem(v, 4);
}

/** The IPv6 question's check: auto, none, or a usable IPv6 CIDR. */
export function ipv6AnswerProblem(v: string): string | null {
  return ['auto', 'none', ''].includes(v) ? null : cidrProblem(v, 6);
}

/** The bind address question's check: `all` or an IP address. */
export function bindAddressProblem(v: string): string | null {
  return v === 'all' || isIP(v) !== 0 ? null : `${JSON.stringify(v)} is not an IP address`;
}
