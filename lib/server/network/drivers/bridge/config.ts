/**
 * The bridge network's config keys, their validators and defaults, and the
 * checks across keys (subnet overlap, DHCP ranges inside the subnet).
 */
import { isAny, isBool, oneOf, type Validator } from '../../../instance/config/validators';
import { badRequest, type StatusError } from '../../../errors';
import { contains, formatNetwork, parseCidr, parseIp } from '../../cidr';
import type { AddressUse } from '../../interface';
import { conflictOf, pickSubnetV4, pickSubnetV6, type RandomInt, defaultRandom } from '../../subnet';
import {
  isBridgeAddress,
  isCidrList,
  isDomain,
  isDomainList,
  isInterfaceName,
  isIp,
  isIpList,
  isIpRanges,
  isLeaseTime,
  isMac,
  isMtu,
} from '../../validators';

/** Every key a bridge accepts (user.* aside). */
export const BRIDGE_KEYS: Record<string, Validator> = {
  'bridge.driver': oneOf('native'),
  'bridge.external_interfaces': (v) => {
    for (const n of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      const why = isInterfaceName(n);
      if (why) return `"${n}": ${why}`;
    }
    return null;
  },
  'bridge.hwaddr': isMac,
  'bridge.mtu': isMtu,
  'dns.domain': isDomain,
  'dns.mode': oneOf('none', 'managed', 'dynamic'),
  'dns.nameservers': isIpList,
  'dns.search': isDomainList,
  'ipv4.address': isBridgeAddress(4),
  'ipv4.dhcp': isBool,
  'ipv4.dhcp.expiry': isLeaseTime,
  'ipv4.dhcp.gateway': isIp(4),
  'ipv4.dhcp.ranges': isIpRanges(4),
  'ipv4.firewall': isBool,
  'ipv4.nat': isBool,
  'ipv4.nat.address': isIp(4),
  'ipv4.nat.order': oneOf('before', 'after'),
  'ipv4.routes': isCidrList(4),
  'ipv4.routing': isBool,
  'ipv6.address': isBridgeAddress(6),
  'ipv6.dhcp': isBool,
  'ipv6.dhcp.expiry': isLeaseTime,
  'ipv6.dhcp.ranges': isIpRanges(6),
  'ipv6.dhcp.stateful': isBool,
  'ipv6.firewall': isBool,
  'ipv6.nat': isBool,
  'ipv6.nat.address': isIp(6),
  'ipv6.nat.order': oneOf('before', 'after'),
  'ipv6.ra': isBool,
  'ipv6.routes': isCidrList(6),
  'ipv6.routing': isBool,
  'raw.dnsmasq': isAny,
};

/** A 400 about one key, in Incus's words. */
function keyError(name: string, key: string, why: string): StatusError {
  return badRequest(`Invalid value for network "${name}" option "${key}": ${why}`);
}

/** A config value read as a boolean with a default. */
export function flag(config: Record<string, string>, key: string, dflt: boolean): boolean {
  const v = (config[key] ?? '').toLowerCase();
  if (v === '') return dflt;
  return ['true', '1', 'yes', 'on'].includes(v);
}

/**
 * Defaults as Incus sets them at creation (`defaults`): `auto` addresses
 * (IPv6 only when the host has it) with NAT; then, at creation and on
 * update, the `auto` values replaced by free subnets.
 */
export function fillBridgeConfig(
  name: string,
  input: Record<string, string>,
  use: AddressUse,
  opts: { ipv6: boolean; defaults?: boolean; random?: RandomInt },
): Record<string, string> {
  const config = { ...input };
  const rand = opts.random ?? defaultRandom;
  if (opts.defaults ?? true) {
    config['ipv4.address'] ||= 'auto';
    if (config['ipv4.address'] === 'auto' && !config['ipv4.nat']) config['ipv4.nat'] = 'true';
    if (!config['ipv6.address'] && opts.ipv6) config['ipv6.address'] = 'auto';
    if (config['ipv6.address'] === 'auto' && !config['ipv6.nat']) config['ipv6.nat'] = 'true';
  }
  if (config['ipv4.address'] === 'auto') {
    const s = pickSubnetV4(use, rand);
    if (!s) throw keyError(name, 'ipv4.address', 'Failed to automatically find an unused IPv4 subnet, manual configuration required');
    config['ipv4.address'] = s;
  }
  if (config['ipv6.address'] === 'auto') {
    const s = pickSubnetV6(use, rand);
    if (!s) throw keyError(name, 'ipv6.address', 'Failed to automatically find an unused IPv6 subnet, manual configuration required');
    config['ipv6.address'] = s;
  }
  return config;
}

/** Checks every key, then the rules that tie keys together. */
export function validateBridgeConfig(name: string, config: Record<string, string>, use: AddressUse): void {
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith('user.')) continue;
    const rule = BRIDGE_KEYS[k];
    if (!rule) throw badRequest(`Invalid option for network "${name}" option "${k}"`);
    if (typeof v !== 'string') throw keyError(name, k, 'must be a string');
    const why = rule(v);
    if (why) throw keyError(name, k, why);
  }
  for (const fam of [4, 6] as const) {
    const key = `ipv${fam}.address`;
    const v = config[key] ?? '';
    if (v === '' || v === 'none' || v === 'auto') continue;
    const subnet = parseCidr(v)!;
    const clash = conflictOf(subnet, use);
    if (clash) throw keyError(name, key, `Subnet "${formatNetwork(subnet)}" overlaps with ${clash}`);
    const ranges = config[`ipv${fam}.dhcp.ranges`] ?? '';
    for (const part of ranges.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [a, b] = part.split('-').map((x) => parseIp(x)!);
      if (!contains(subnet, a) || !contains(subnet, b)) {
        throw keyError(name, `ipv${fam}.dhcp.ranges`, `Range "${part}" is not within the network subnet ${formatNetwork(subnet)}`);
      }
    }
    const gw = fam === 4 ? config['ipv4.dhcp.gateway'] : '';
    if (gw && !contains(subnet, parseIp(gw)!)) {
      throw keyError(name, 'ipv4.dhcp.gateway', `Gateway "${gw}" is not within the network subnet ${formatNetwork(subnet)}`);
    }
  }
}
