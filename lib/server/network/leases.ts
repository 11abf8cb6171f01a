/**
 * Leases of a managed network as the API lists them: the gateway, static
 * reservations from NIC config, and dynamic leases read from dnsmasq's
 * lease file (`expiry mac ip hostname client-id` per line).
 */
import type { NetworkLease } from '../../api/network';
import { formatIp, parseCidr } from './cidr';
import type { StaticHost } from './interface';

export interface DynamicLease {
  expiry: number;
  hwaddr: string;
  address: string;
  hostname: string;
}

/** Parses dnsmasq's lease file; IPv6 lines (after `duid`) carry no MAC. */
export function parseLeaseFile(text: string): DynamicLease[] {
  const out: DynamicLease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[0] === 'duid') continue;
    const v6 = f[2].includes(':');
    out.push({
      expiry: Number(f[0]),
      hwaddr: v6 ? '' : f[1].toLowerCase(),
      address: f[2],
      hostname: f[3] === '*' ? '' : f[3],
    });
  }
  return out;
}

/** The list GET /1.0/networks/{name}/leases returns. */
export function mergeLeases(
  name: string,
  config: Record<string, string>,
  statics: StaticHost[],
  dynamic: DynamicLease[],
): NetworkLease[] {
  const out: NetworkLease[] = [];
  for (const key of ['ipv4.address', 'ipv6.address']) {
    const c = config[key] ? parseCidr(config[key]) : null;
    if (c) out.push({ hostname: `${name}.gw`, hwaddr: '', address: formatIp(c.family, c.addr), type: 'gateway', location: '' });
  }
  for (const h of statics) {
    for (const a of [h.ipv4, h.ipv6]) {
      if (a) out.push({ hostname: h.instance, hwaddr: h.hwaddr, address: a, type: 'static', location: '' });
    }
  }
  for (const d of dynamic) {
    if (out.some((l) => l.type === 'static' && l.address === d.address && l.hwaddr === d.hwaddr)) continue;
    const owner = statics.find((h) => h.hwaddr === d.hwaddr);
    out.push({ hostname: d.hostname || owner?.instance || '', hwaddr: d.hwaddr, address: d.address, type: 'dynamic', location: '' });
  }
  return out;
}
