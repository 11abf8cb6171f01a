/**
 * The DNAT rules of a proxy device in NAT mode, in the daemon's nftables
 * table as Incus writes them: per device a prerouting chain
 * (`prert.<instance>.<device>`) and an output chain (`out.…`) that send the
 * listen address and ports to the instance, and a postrouting chain
 * (`pstrt.…`) that masquerades the instance talking to itself through the
 * listen address (hairpin).
 */
import { NFT_FAMILY, NFT_TABLE } from './nftables';
import { runTool } from './tool';

/** A port range: first port and how many ports. */
type PortRange = [number, number];

export interface AddressForward {
  protocol: 'tcp' | 'udp';
  /** IP literal; `0.0.0.0` or `::` matches every local address. */
  listenAddress: string;
  listenPorts: number[];
  targetAddress: string;
  /** One port (for every listen port) or as many as listenPorts. */
  targetPorts: number[];
}

const CHAINS = ['prert', 'out', 'pstrt'] as const;

/** Consecutive ports folded into ranges. */
export function portRanges(ports: readonly number[]): PortRange[] {
  const out: PortRange[] = [];
  let start = 0;
  for (let i = 0; i < ports.length; i++) {
    if (i === ports.length - 1 || ports[i + 1] !== ports[i]! + 1) {
      out.push([ports[start]!, ports[i]! - ports[start]! + 1]);
      start = i + 1;
    }
  }
  return out;
}

function rangeText([first, size]: PortRange, sep: string): string {
  return size === 1 ? String(first) : `${first}${sep}${first + size - 1}`;
}

/**
 * Listen ranges mapped to target ranges in as few rules as Incus makes: a
 * single target port serves whole listen ranges, identical ranges map as
 * one, every other port maps on its own.
 */
export function dnatRanges(f: Pick<AddressForward, 'listenPorts' | 'targetPorts'>): [PortRange, PortRange][] {
  if (f.targetPorts.length === 1) return portRanges(f.listenPorts).map((r) => [r, [f.targetPorts[0]!, 1]]);
  const targetStarts = new Map(portRanges(f.targetPorts).map(([first, size]) => [first, size]));
  const out: [PortRange, PortRange][] = [];
  let done = 0;
  for (const range of portRanges(f.listenPorts)) {
    const end = done + range[1];
    const target = f.targetPorts[done]!;
    const size = targetStarts.get(target);
    if (size !== undefined && range[0] === target) {
      const n = Math.min(size, range[1]);
      out.push([[range[0], n], [target, size]]);
      done += n;
    }
    for (; done < end; done++) out.push([[f.listenPorts[done]!, 1], [f.targetPorts[done]!, 1]]);
  }
  return out;
}

const chainName = (kind: string, label: string): string => `${kind}.${label}`;

/** The nft script that makes the device's chains hold exactly `f`'s rules. */
export function proxyNatScript(label: string, f: AddressForward): string {
  const v6 = f.listenAddress.includes(':');
  const fam = v6 ? 'ip6' : 'ip';
  const wildcard = f.listenAddress === '0.0.0.0' || f.listenAddress === '::';
  const proto = v6 ? 'ipv6' : 'ipv4';
  const loopback = v6 ? '::1/128' : '127.0.0.0/8';
  const prert: string[] = [];
  const out: string[] = [];
  for (const [listen, target] of dnatRanges(f)) {
    const port = target[1] === 1 ? rangeText(target, ':') : '';
    const dest = port === '' ? f.targetAddress : v6 ? `[${f.targetAddress}]:${port}` : `${f.targetAddress}:${port}`;
    const match = `${f.protocol} dport ${rangeText(listen, '-')} dnat ${fam} to ${dest}`;
    prert.push(wildcard ? `meta nfproto ${proto} fib daddr type local ${match}` : `${fam} daddr ${f.listenAddress} ${match}`);
    out.push(wildcard ? `meta nfproto ${proto} ${fam} daddr != ${loopback} fib daddr type local ${match}` : `${fam} daddr ${f.listenAddress} ${match}`);
  }
  const pstrt = portRanges(f.targetPorts).map(
    (r) => `${fam} saddr ${f.targetAddress} ${fam} daddr ${f.targetAddress} ${f.protocol} dport ${rangeText(r, '-')} masquerade`,
  );
  const hooks = {
    prert: 'type nat hook prerouting priority -100; policy accept;',
    out: 'type nat hook output priority -100; policy accept;',
    pstrt: 'type nat hook postrouting priority 100; policy accept;',
  };
  const rules = { prert, out, pstrt };
  const lines = [`add table ${NFT_FAMILY} ${NFT_TABLE}`];
  for (const kind of CHAINS) {
    const ref = `${NFT_FAMILY} ${NFT_TABLE} ${chainName(kind, label)}`;
    lines.push(`add chain ${ref} { ${hooks[kind]} }`, `flush chain ${ref}`);
    for (const r of rules[kind]) lines.push(`add rule ${ref} ${r}`);
  }
  return lines.join('\n') + '\n';
}

/** Installs (or replaces) the device's DNAT rules in one transaction. */
export async function setupProxyNat(label: string, f: AddressForward): Promise<void> {
  await runTool('nft', ['-f', '-'], proxyNatScript(label, f));
}

/** Removes the device's chains where they exist (a device that never used NAT has none). */
export async function clearProxyNat(label: string): Promise<void> {
  let listing: { nftables: { chain?: { family: string; table: string; name: string } }[] };
  try {
    listing = JSON.parse(await runTool('nft', ['-j', 'list', 'chains', NFT_FAMILY])) as typeof listing;
  } catch {
    return; // No nft, or no table of this family: nothing of ours to remove.
  }
  const wanted = new Set(CHAINS.map((k) => chainName(k, label)));
  const found = listing.nftables.filter((o) => o.chain?.table === NFT_TABLE && wanted.has(o.chain.name));
  if (found.length === 0) return;
  const lines = found.flatMap((o) => {
    const ref = `${NFT_FAMILY} ${NFT_TABLE} ${o.chain!.name}`;
    return [`flush chain ${ref}`, `delete chain ${ref}`];
  });
  await runTool('nft', ['-f', '-'], lines.join('\n') + '\n');
}
