/**
 * A proxy device in NAT mode (nat=true): no relay process, DNAT rules on the
 * host send the listen address to the instance's address on a bridged or
 * routed NIC, as Incus's proxy setupNAT does. The target is the NIC's static
 * address; with a wildcard connect address and no static one, the address
 * the instance took on a bridge is looked up in the bridge's neighbour table
 * (ARP/NDP) and followed while the instance runs.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { clearProxyNat, setupProxyNat } from '../../network/nft-proxy-nat';
import { ip, ipJson } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import { nicHostName, nicHwaddr, nicKind } from './nic-common';
import { parseProxyAddress, type ProxyAddress } from './proxy-address';

/** How often a dynamic target is looked up again (Incus's interval). */
const NEIGHBOUR_SCAN_MS = 5000;

/** The device's chain label, as Incus names it: `<instance>.<device>`. */
const natLabel = (ctx: DeviceStartContext): string => `${ctx.dirName}.${ctx.name}`;
const monitorKey = (ctx: DeviceStartContext): string => `proxy/${ctx.dirName}/${ctx.name}`;

const isWildcard = (a: string): boolean => a === '0.0.0.0' || a === '::';
const addressIp = (value: string): string => value.split('/')[0]!;

/** Config checks of NAT mode (Incus's validateConfig); returns a reason or null. */
export function proxyNatProblem(config: Record<string, string>, listen: ProxyAddress, connect: ProxyAddress): string | null {
  if (config.bind && config.bind !== 'host') return 'Only host-bound proxies can use NAT';
  if (listen.type === 'unix' || connect.type === 'unix' || listen.type !== connect.type) {
    return `Proxying ${listen.type} <-> ${connect.type} is not supported when using NAT`;
  }
  const version = (a: string): number => (isIP(a) === 6 ? 6 : 4);
  if (version(listen.address) !== version(connect.address)) return 'Cannot mix IP versions between listen and connect in nat mode';
  return null;
}

interface NatTarget {
  /** The static target address, or null when it has to be looked up. */
  address: string | null;
  /** Host side of the NIC (the bridge port to put in hairpin mode). */
  hostName: string;
  /** For a lookup: the bridge and the NIC's MAC. */
  bridge?: string;
  hwaddr?: string;
}

/** Picks the NIC the device's traffic goes to (the first match by device name). */
function natTarget(ctx: DeviceStartContext, connect: ProxyAddress, version: 4 | 6): NatTarget {
  const wildcard = isWildcard(connect.address);
  const key = version === 4 ? 'ipv4.address' : 'ipv6.address';
  let dynamic: [string, Record<string, string>] | null = null;
  for (const [dev, d] of Object.entries(ctx.inst.expandedDevices).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (d.type !== 'nic') continue;
    const kind = nicKind(d);
    if (kind !== 'bridged' && kind !== 'routed') continue;
    const hostName = ctx.inst.expandedConfig[`volatile.${dev}.host_name`] || nicHostName(ctx.inst, dev, d);
    if (d[key]) {
      const nicIp = addressIp(d[key]);
      if (connect.address === nicIp || wildcard) return { address: nicIp, hostName };
    } else if (kind === 'bridged' && wildcard && !dynamic) {
      dynamic = [dev, d];
    }
  }
  if (dynamic) {
    const [dev, d] = dynamic;
    return {
      address: null,
      hostName: ctx.inst.expandedConfig[`volatile.${dev}.host_name`] || nicHostName(ctx.inst, dev, d),
      bridge: d.network || d.parent,
      hwaddr: nicHwaddr(ctx.inst, dev, d),
    };
  }
  if (wildcard) throw new Error(`Instance has no IPv${version} address assigned to be used as the connect IP`);
  throw new Error(`Connect IP "${connect.address}" must be one of the instance's static IPv${version} addresses`);
}

/** Whether bridged traffic goes through the host's netfilter (br_netfilter), which needs hairpin ports. */
async function bridgeNetfilter(version: 4 | 6): Promise<boolean> {
  const name = version === 4 ? 'iptables' : 'ip6tables';
  const value = await readFile(`/proc/sys/net/bridge/bridge-nf-call-${name}`, 'utf8').catch(() => '');
  return value.trim() === '1';
}

interface Neighbour {
  dst: string;
  lladdr?: string;
  state?: string[];
}

/** The usable addresses the bridge has seen for `hwaddr` (Incus's GetNeighborAddresses). */
async function neighbourAddresses(bridge: string, hwaddr: string, version: 4 | 6): Promise<string[]> {
  const rows = await ipJson<Neighbour>(`-${version}`, 'neigh', 'show', 'dev', bridge);
  return rows
    .filter((n) => n.lladdr?.toLowerCase() === hwaddr && !(n.state ?? []).some((s) => ['FAILED', 'INCOMPLETE', 'NONE'].includes(s)))
    .map((n) => n.dst)
    .filter((a) => !/^fe[89ab]/i.test(a) && !/^ff/i.test(a) && a !== '::1' && !a.startsWith('127.'));
}

/** Installs the device's DNAT rules (postStart and hot-plug of a nat=true proxy). */
export async function startProxyNat(ctx: DeviceStartContext): Promise<void> {
  const listen = parseProxyAddress(ctx.config.listen);
  const connect = parseProxyAddress(ctx.config.connect);
  const version = isIP(listen.address) === 6 ? 6 : 4;
  const target = natTarget(ctx, connect, version);
  if (await bridgeNetfilter(version)) {
    // Instances on the bridge reach the listen address back through their own port.
    await ip('link', 'set', 'dev', target.hostName, 'type', 'bridge_slave', 'hairpin', 'on').catch((err: Error) => {
      throw new Error(`Error enabling hairpin mode on bridge port "${target.hostName}": ${err.message}`);
    });
  }
  const apply = (address: string): Promise<void> =>
    setupProxyNat(natLabel(ctx), {
      protocol: listen.type as 'tcp' | 'udp',
      listenAddress: listen.address,
      listenPorts: listen.ports,
      targetAddress: address,
      targetPorts: connect.ports,
    });
  if (target.address !== null) return apply(target.address);
  if (!target.bridge) throw new Error('Proxy cannot find the bridge of the instance NIC to detect its address');
  const { bridge, hwaddr } = target as Required<NatTarget>;
  let last = '';
  const check = async (): Promise<void> => {
    const [found] = await neighbourAddresses(bridge, hwaddr, version);
    if (found === undefined || found === last) return;
    await apply(found);
    last = found;
  };
  if (ctx.monitors) ctx.monitors.start(monitorKey(ctx), NEIGHBOUR_SCAN_MS, check);
  else await check();
}

/** Removes the device's DNAT rules and stops following its target (whatever mode it ran in). */
export async function stopProxyNat(ctx: DeviceStartContext): Promise<void> {
  ctx.monitors?.stop(monitorKey(ctx));
  await clearProxyNat(natLabel(ctx));
}
