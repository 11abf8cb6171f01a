/**
 * The host's own interfaces, read with `ip -j` in the daemon's network
 * namespace: the unmanaged entries of GET /1.0/networks, and the state of
 * any interface (GET /1.0/networks/{name}/state).
 */
import { existsSync } from 'node:fs';
import type { NetworkState } from '../../api/network';
import { ipJson } from './tool';

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  link_type?: string;
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
  stats64?: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
}

/** Incus's type of an unmanaged interface. */
function hostType(l: IpLink): string {
  const kind = l.linkinfo?.info_kind;
  if (l.link_type === 'loopback') return 'loopback';
  if (kind === 'bridge' || kind === 'bond' || kind === 'vlan') return kind;
  if (existsSync(`/sys/class/net/${l.ifname}/device`)) return 'physical';
  return 'unknown';
}

/** Every interface of the host namespace with its Incus type. */
export async function hostInterfaces(): Promise<{ name: string; type: string }[]> {
  const links = await ipJson<IpLink>('-d', 'link', 'show');
  return links.map((l) => ({ name: l.ifname, type: hostType(l) }));
}

/** Whether an interface of that name exists in the daemon's namespace. */
export function interfaceExists(name: string): boolean {
  return /^[^/]+$/.test(name) && name !== '.' && name !== '..' && existsSync(`/sys/class/net/${name}`);
}

/** State of one interface; null when it does not exist. */
export async function interfaceState(name: string): Promise<NetworkState | null> {
  const [l] = await ipJson<IpLink>('-s', '-d', 'addr', 'show', 'dev', name).catch(() => []);
  if (!l) return null;
  const flags = l.flags ?? [];
  const info = l.linkinfo?.info_data ?? {};
  let bridge: NetworkState['bridge'] = null;
  if (l.linkinfo?.info_kind === 'bridge') {
    const ports = await ipJson<IpLink>('link', 'show', 'master', name).catch(() => []);
    const id = String(info.bridge_id ?? '');
    bridge = {
      id,
      stp: Number(info.stp_state ?? 0) !== 0,
      forward_delay: Number(info.forward_delay ?? 0),
      vlan_default: Number(info.vlan_default_pvid ?? 0),
      vlan_filtering: Number(info.vlan_filtering ?? 0) !== 0,
      upper_devices: ports.map((p) => p.ifname),
    };
  }
  return {
    addresses: (l.addr_info ?? []).map((a) => ({ family: a.family, address: a.local, netmask: String(a.prefixlen), scope: a.scope })),
    counters: l.stats64
      ? {
          bytes_received: l.stats64.rx.bytes,
          bytes_sent: l.stats64.tx.bytes,
          packets_received: l.stats64.rx.packets,
          packets_sent: l.stats64.tx.packets,
        }
      : null,
    hwaddr: l.address ?? '',
    mtu: l.mtu ?? 0,
    state: flags.includes('UP') ? 'up' : 'down',
    type: l.link_type === 'loopback' ? 'loopback' : flags.includes('POINTOPOINT') ? 'point-to-point' : 'broadcast',
    bond: null,
    bridge,
    vlan: null,
    ovn: null,
  };
}
