/**
 * `GET /1.0/network-allocations`: every address the managed networks hold,
 * as Incus lists them: each network's own subnets, the DHCP leases and
 * static reservations of its instances, and its forwards' listen
 * addresses. Addresses are CIDRs (a host address as /32 or /128); NAT is
 * the network's `ipvN.nat`, never for forwards (ingress is not SNATed).
 */
import type { NetworkAllocation } from '../../api/network';
import { flag } from './drivers/bridge/config';
import { formatCidr, parseCidr, parseIp } from './cidr';
import type { NetworkRecord } from '../db/networks';

/** What the listing reads from a network. */
export interface AllocationSource {
  net: NetworkRecord;
  leases: { hostname: string; hwaddr: string; address: string; type: string }[];
  forwards: { listen_address: string }[];
}

/** The API path of `path` in `project` (no `?project=` for the default one, as Incus's api.URL). */
function inProject(path: string, project: string): string {
  return project === 'default' ? path : `${path}?project=${encodeURIComponent(project)}`;
}

/** `addr` as a single-address CIDR, with the NAT flag of its family. */
function hostCidr(addr: string, config: Record<string, string>): { address: string; nat: boolean } {
  const ip = parseIp(addr);
  if (!ip) throw new Error(`Invalid IP address "${addr}"`);
  return { address: formatCidr({ ...ip, prefix: ip.family === 4 ? 32 : 128 }), nat: flag(config, `ipv${ip.family}.nat`, false) };
}

export function networkAllocations(sources: readonly AllocationSource[]): NetworkAllocation[] {
  const out: NetworkAllocation[] = [];
  for (const { net, leases, forwards } of sources) {
    const base = `/1.0/networks/${encodeURIComponent(net.name)}`;
    for (const fam of [4, 6]) {
      const subnet = parseCidr(net.config[`ipv${fam}.address`] ?? '');
      if (!subnet) continue;
      out.push({ addresses: formatCidr(subnet), hwaddr: '', nat: flag(net.config, `ipv${fam}.nat`, false), type: 'network', used_by: inProject(base, net.project), network: net.name });
    }
    for (const l of leases) {
      if (l.type !== 'static' && l.type !== 'dynamic') continue;
      const { address, nat } = hostCidr(l.address, net.config);
      out.push({ addresses: address, hwaddr: l.hwaddr, nat, type: 'instance', used_by: inProject(`/1.0/instances/${encodeURIComponent(l.hostname)}`, net.project), network: net.name });
    }
    for (const f of forwards) {
      const { address } = hostCidr(f.listen_address, net.config);
      out.push({ addresses: address, hwaddr: '', nat: false, type: 'network-forward', used_by: inProject(`${base}/forwards/${encodeURIComponent(f.listen_address)}`, net.project), network: net.name });
    }
  }
  return out;
}
