/**
 * Subnets for `auto` addresses: a random 10.x.y.1/24 or fd42:…::1/64 that
 * overlaps no route, no address on the host and no other managed network,
 * as Incus picks them (without probing the wire).
 */
import { type Cidr, formatNetwork, overlaps, parseCidr } from './cidr';
import type { AddressUse } from './interface';
import { ipJson } from './tool';

/** A source of random integers in [0, n). */
export type RandomInt = (n: number) => number;

export const defaultRandom: RandomInt = (n) => Math.floor(Math.random() * n);

/** The first taken prefix that `c` overlaps, or null. */
export function conflictOf(c: Cidr, use: AddressUse): string | null {
  for (const t of [...use.networks, ...use.host]) {
    if (overlaps(c, t.cidr)) return t.what;
  }
  return null;
}

/** A free `10.x.y.1/24`, or null after 100 tries. */
export function pickSubnetV4(use: AddressUse, rand: RandomInt = defaultRandom): string | null {
  for (let i = 0; i < 100; i++) {
    const text = `10.${rand(255)}.${rand(255)}.1/24`;
    if (!conflictOf(parseCidr(text)!, use)) return text;
  }
  return null;
}

/** A free `fd42:xxxx:xxxx:xxxx::1/64`, or null after 100 tries. */
export function pickSubnetV6(use: AddressUse, rand: RandomInt = defaultRandom): string | null {
  for (let i = 0; i < 100; i++) {
    const g = (): string => rand(65535).toString(16);
    const text = `fd42:${g()}:${g()}:${g()}::1/64`;
    if (!conflictOf(parseCidr(text)!, use)) return text;
  }
  return null;
}

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
}

interface IpAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * Routes (every table) and addresses on the host, leaving out link-local
 * ones and those on the interfaces in `skip` (managed bridges, whose
 * subnets the caller knows by name).
 */
export async function hostPrefixes(skip: ReadonlySet<string>): Promise<AddressUse['host']> {
  const out: AddressUse['host'] = [];
  for (const fam of ['-4', '-6']) {
    const routes = await ipJson<IpRoute>(fam, 'route', 'show', 'table', 'all').catch(() => []);
    for (const r of routes) {
      if (!r.dst || r.dst === 'default' || (r.dev && skip.has(r.dev)) || r.dev === 'lo') continue;
      if (r.type === 'multicast' || r.type === 'broadcast' || r.type === 'local') continue;
      const text = r.dst.includes('/') ? r.dst : `${r.dst}/${fam === '-4' ? 32 : 128}`;
      const c = parseCidr(text);
      if (c && !isLinkLocal(c)) out.push({ cidr: c, what: `route ${formatNetwork(c)}${r.dev ? ` on ${r.dev}` : ''}` });
    }
  }
  const links = await ipJson<IpAddr>('addr', 'show').catch(() => []);
  for (const l of links) {
    if (skip.has(l.ifname) || l.ifname === 'lo') continue;
    for (const a of l.addr_info ?? []) {
      const c = parseCidr(`${a.local}/${a.prefixlen}`);
      if (c && !isLinkLocal(c)) out.push({ cidr: c, what: `address ${a.local}/${a.prefixlen} on ${l.ifname}` });
    }
  }
  return out;
}

const LINK_LOCAL = [parseCidr('169.254.0.0/16')!, parseCidr('fe80::/10')!];

function isLinkLocal(c: Cidr): boolean {
  return LINK_LOCAL.some((l) => l.family === c.family && c.prefix >= l.prefix && overlaps(l, c));
}
