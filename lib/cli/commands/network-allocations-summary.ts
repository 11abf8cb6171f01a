/**
 * `incus network list-allocations --summary`: per network and subnet, the
 * addresses in use folded into ranges (`10.0.0.1-10.0.0.3, 10.0.0.9`), with
 * addresses outside every subnet under "external", as Incus prints it.
 */
import ipaddr from 'ipaddr.js';
import type { NetworkAllocation } from '../../api/network';

/** An address as a number, IPv4 ordered before IPv6 as Go's netip.Addr.Compare does. */
interface Addr {
  v6: boolean;
  n: bigint;
}

interface Prefix {
  addr: Addr;
  bits: number;
}

/** One summary row, in the shape `-f json|yaml` prints. */
export interface SummaryRow {
  network: string;
  subnet: string;
  used: string;
}

function toAddr(ip: ipaddr.IPv4 | ipaddr.IPv6): Addr {
  // An IPv4-mapped IPv6 address counts as its IPv4 address (netip's Unmap).
  const plain = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  const n = plain.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return { v6: plain.kind() === 'ipv6', n };
}

function format(a: Addr): string {
  const width = a.v6 ? 16 : 4;
  const bytes = Array.from({ length: width }, (_, i) => Number((a.n >> BigInt(8 * (width - 1 - i))) & 0xffn));
  const ip = ipaddr.fromByteArray(bytes);
  return ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString();
}

function compare(a: Addr, b: Addr): number {
  if (a.v6 !== b.v6) return a.v6 ? 1 : -1;
  return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

function width(a: Addr): number {
  return a.v6 ? 128 : 32;
}

function masked(p: Prefix): Prefix {
  const host = (1n << BigInt(width(p.addr) - p.bits)) - 1n;
  return { addr: { v6: p.addr.v6, n: p.addr.n & ~host }, bits: p.bits };
}

function contains(p: Prefix, a: Addr): boolean {
  return p.addr.v6 === a.v6 && masked({ addr: a, bits: p.bits }).addr.n === p.addr.n;
}

const formatPrefix = (p: Prefix): string => `${format(p.addr)}/${p.bits}`;

/**
 * Folds addresses into sorted, de-duplicated runs of consecutive addresses.
 * @returns `A` for a lone address, `A-B` for a run.
 */
function compactRanges(addrs: readonly Addr[]): string[] {
  const sorted = [...addrs].sort(compare).filter((a, i, all) => i === 0 || compare(a, all[i - 1]) !== 0);
  const ranges: string[] = [];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    const prev = sorted[i - 1];
    if (i < sorted.length && sorted[i].v6 === prev.v6 && sorted[i].n === prev.n + 1n) continue;
    ranges.push(start === i - 1 ? format(prev) : `${format(sorted[start])}-${format(prev)}`);
    start = i;
  }
  return ranges;
}

/**
 * Builds the summary rows, networks by name, subnets by address then length.
 * @throws Error naming the network when an allocation's address does not parse.
 */
export function summarizeAllocations(allocations: readonly NetworkAllocation[]): SummaryRow[] {
  const networks = new Map<string, { subnets: Prefix[]; used: Addr[] }>();
  for (const alloc of allocations) {
    let net = networks.get(alloc.network);
    if (!net) networks.set(alloc.network, (net = { subnets: [], used: [] }));
    if (alloc.type === 'network') {
      if (!ipaddr.isValidCIDR(alloc.addresses)) throw new Error(`Invalid subnet ${JSON.stringify(alloc.addresses)} for network ${JSON.stringify(alloc.network)}`);
      const [ip, bits] = ipaddr.parseCIDR(alloc.addresses);
      net.subnets.push(masked({ addr: toAddr(ip), bits }));
    } else {
      const bare = alloc.addresses.split('/')[0];
      if (!ipaddr.isValid(bare)) throw new Error(`Invalid address ${JSON.stringify(alloc.addresses)} for network ${JSON.stringify(alloc.network)}`);
      net.used.push(toAddr(ipaddr.parse(bare)));
    }
  }

  const rows: SummaryRow[] = [];
  for (const name of [...networks.keys()].sort()) {
    const { subnets, used } = networks.get(name)!;
    const ordered = subnets
      .sort((a, b) => compare(a.addr, b.addr) || a.bits - b.bits)
      .filter((p, i, all) => i === 0 || compare(p.addr, all[i - 1].addr) !== 0 || p.bits !== all[i - 1].bits);
    const inSubnet = ordered.map(() => [] as Addr[]);
    const external: Addr[] = [];
    for (const a of used) {
      const at = ordered.findIndex((p) => contains(p, a));
      (at < 0 ? external : inSubnet[at]).push(a);
    }
    ordered.forEach((p, i) => rows.push({ network: name, subnet: formatPrefix(p), used: compactRanges(inSubnet[i]).join(', ') }));
    if (external.length > 0) rows.push({ network: name, subnet: 'external', used: compactRanges(external).join(', ') });
  }
  return rows;
}
