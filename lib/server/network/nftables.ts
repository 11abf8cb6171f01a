/**
 * The daemon's nftables rules for managed networks, in a table of its own
 * (`inet incus`, as Incus names it): per network a NAT chain
 * (`pstrt.<net>`), forwarding (`fwd.<net>`) and DHCP/DNS/ICMP access
 * (`in.<net>`, `out.<net>`). Each change is one atomic `nft -f` script;
 * chains a network no longer needs are flushed and deleted in it.
 */
import { type Cidr, formatNetwork } from './cidr';
import { runTool } from './tool';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'incus';

/** One address family's part of a network's firewall. */
export interface FamilyRules {
  subnet: Cidr;
  /** Masquerade (or SNAT to natAddress) traffic leaving the subnet. */
  nat: boolean;
  natAddress: string;
  /** Accept DHCP, DNS and core ICMP between the bridge and the host. */
  firewall: boolean;
  /** Forward traffic to and from the bridge (false: reject it). */
  routing: boolean;
}

export interface NetworkFirewall {
  /** Bridge (interface) name, also the chains' suffix. */
  name: string;
  v4: FamilyRules | null;
  v6: FamilyRules | null;
}

interface Chain {
  name: string;
  hook: string;
  rules: string[];
}

const CHAIN_KINDS = ['pstrt', 'fwd', 'in', 'out'] as const;
const HOOKS: Record<(typeof CHAIN_KINDS)[number], string> = {
  pstrt: 'type nat hook postrouting priority 100; policy accept;',
  fwd: 'type filter hook forward priority 0; policy accept;',
  in: 'type filter hook input priority 0; policy accept;',
  out: 'type filter hook output priority 0; policy accept;',
};

const q = (s: string): string => JSON.stringify(s);

/** The chains (with their rules) a network needs. */
export function networkChains(fw: NetworkFirewall): Chain[] {
  const n = q(fw.name);
  const fams = [
    { key: 'ip', rules: fw.v4 },
    { key: 'ip6', rules: fw.v6 },
  ].filter((f): f is { key: string; rules: FamilyRules } => f.rules !== null);
  const pstrt: string[] = [];
  const fwd: string[] = [];
  const input: string[] = [];
  const output: string[] = [];
  for (const { key, rules } of fams) {
    const net = formatNetwork(rules.subnet);
    if (rules.nat) {
      const to = rules.natAddress ? `snat ${key} to ${rules.natAddress}` : 'masquerade';
      pstrt.push(`${key} saddr ${net} ${key} daddr != ${net} ${to}`);
    }
    if (!rules.firewall) continue;
    const action = rules.routing ? 'accept' : 'reject';
    fwd.push(`${key} version ${key === 'ip' ? 4 : 6} oifname ${n} ${action}`, `${key} version ${key === 'ip' ? 4 : 6} iifname ${n} ${action}`);
    if (key === 'ip') {
      input.push(`iifname ${n} icmp type { 3, 11, 12 } accept`, `iifname ${n} udp dport 67 accept`);
      output.push(`oifname ${n} icmp type { 3, 11, 12 } accept`, `oifname ${n} udp sport 67 accept`);
    } else {
      input.push(`iifname ${n} icmpv6 type { 1, 2, 3, 4, 133, 135, 136, 143 } accept`, `iifname ${n} udp dport 547 accept`);
      output.push(`oifname ${n} icmpv6 type { 1, 2, 3, 4, 128, 134, 135, 136, 143 } accept`, `oifname ${n} udp sport 547 accept`);
    }
  }
  if (input.length > 0) {
    input.unshift(`iifname ${n} tcp dport 53 accept`, `iifname ${n} udp dport 53 accept`);
    output.unshift(`oifname ${n} tcp sport 53 accept`, `oifname ${n} udp sport 53 accept`);
  }
  const byKind = { pstrt, fwd, in: input, out: output };
  return CHAIN_KINDS.filter((k) => byKind[k].length > 0).map((k) => ({ name: `${k}.${fw.name}`, hook: HOOKS[k], rules: byKind[k] }));
}

const chainRef = (name: string): string => `${NFT_FAMILY} ${NFT_TABLE} ${name}`;

/** Lines that remove a chain whether or not it exists. */
function dropChain(name: string): string[] {
  return [`add chain ${chainRef(name)}`, `flush chain ${chainRef(name)}`, `delete chain ${chainRef(name)}`];
}

/** The nft script that makes the network's chains exactly what `fw` asks for. */
export function applyScript(fw: NetworkFirewall): string {
  const chains = networkChains(fw);
  const lines = [`add table ${NFT_FAMILY} ${NFT_TABLE}`];
  for (const kind of CHAIN_KINDS) {
    const name = `${kind}.${fw.name}`;
    const c = chains.find((x) => x.name === name);
    if (!c) {
      lines.push(...dropChain(name));
      continue;
    }
    lines.push(`add chain ${chainRef(name)} { ${c.hook} }`, `flush chain ${chainRef(name)}`);
    for (const r of c.rules) lines.push(`add rule ${chainRef(name)} ${r}`);
  }
  return lines.join('\n') + '\n';
}

/** The nft script that removes every chain of the network. */
export function clearScript(name: string): string {
  const lines = [`add table ${NFT_FAMILY} ${NFT_TABLE}`];
  for (const kind of CHAIN_KINDS) lines.push(...dropChain(`${kind}.${name}`));
  return lines.join('\n') + '\n';
}

/** Applies the network's rules in one transaction. */
export async function applyNetworkFirewall(fw: NetworkFirewall): Promise<void> {
  await runTool('nft', ['-f', '-'], applyScript(fw));
}

/** Removes the network's chains, and the table once no chain is left in it. */
export async function clearNetworkFirewall(name: string): Promise<void> {
  await runTool('nft', ['-f', '-'], clearScript(name));
  const listing = JSON.parse(await runTool('nft', ['-j', 'list', 'table', NFT_FAMILY, NFT_TABLE])) as {
    nftables: Record<string, unknown>[];
  };
  if (!listing.nftables.some((o) => 'chain' in o)) await runTool('nft', ['delete', 'table', NFT_FAMILY, NFT_TABLE]);
}

