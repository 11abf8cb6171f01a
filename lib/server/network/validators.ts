/**
 * Validators for network config values (and NIC options that share them):
 * each returns null when the value is fine and a short reason otherwise;
 * an empty value means "unset".
 */
import type { Validator } from '../instance/config/validators';
import { type Family, lastOf, networkOf, parseCidr, parseIp } from './cidr';

const optional =
  (v: Validator): Validator =>
  (value) =>
    value === '' ? null : v(value);

/** An address in CIDR form that can be the host's own (not the network or broadcast address). */
export const isHostCidr = (family: Family): Validator =>
  optional((v) => {
    const c = parseCidr(v);
    if (!c || c.family !== family) return `Not an IPv${family} address in CIDR notation`;
    if (family === 4 ? c.prefix < 31 : c.prefix < 127) {
      if (c.addr === networkOf(c)) return 'Cannot use the network address';
      if (family === 4 && c.addr === lastOf(c)) return 'Cannot use the broadcast address';
    }
    return null;
  });

/** `ipv4.address` / `ipv6.address` of a bridge: `auto`, `none`, or ADDR/PREFIX. */
export const isBridgeAddress = (family: Family): Validator => {
  const cidr = isHostCidr(family);
  return optional((v) => (v === 'auto' || v === 'none' ? null : cidr(v)));
};

/** A bare IP address of the family. */
export const isIp = (family: Family): Validator =>
  optional((v) => (parseIp(v)?.family === family ? null : `Not an IPv${family} address`));

/** Comma-separated network prefixes of the family. */
export const isCidrList = (family: Family): Validator =>
  optional((v) => {
    for (const part of v.split(',').map((s) => s.trim())) {
      const c = parseCidr(part);
      if (!c || c.family !== family) return `"${part}" is not an IPv${family} network in CIDR notation`;
    }
    return null;
  });

/** Comma-separated `START-END` ranges of the family. */
export const isIpRanges = (family: Family): Validator =>
  optional((v) => {
    for (const part of v.split(',').map((s) => s.trim())) {
      const [a, b, extra] = part.split('-');
      const s = a ? parseIp(a) : null;
      const e = b ? parseIp(b) : null;
      if (extra !== undefined || !s || !e || s.family !== family || e.family !== family) {
        return `"${part}" is not an IPv${family} range (START-END)`;
      }
      if (e.addr < s.addr) return `Range "${part}" ends before it starts`;
    }
    return null;
  });

/** Comma-separated bare IP addresses (either family). */
export const isIpList: Validator = optional((v) => {
  for (const part of v.split(',').map((s) => s.trim())) if (!parseIp(part)) return `"${part}" is not an IP address`;
  return null;
});

/** A unicast Ethernet address. */
export const isMac: Validator = optional((v) => {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) return 'Invalid MAC address';
  return (parseInt(v.slice(0, 2), 16) & 1) === 1 ? 'Cannot use a multicast MAC address' : null;
});

/** A network interface MTU. */
export const isMtu: Validator = optional((v) => {
  if (!/^\d+$/.test(v)) return 'Invalid MTU';
  const n = Number(v);
  return n < 68 || n > 65535 ? 'MTU must be between 68 and 65535' : null;
});

/** A Linux interface name (IFNAMSIZ - 1 characters, no slash, colon or space). */
export const isInterfaceName: Validator = optional((v) => {
  if (v.length > 15) return 'Network interface name is too long (maximum 15 characters)';
  if (v === '.' || v === '..' || /[\s/:]/.test(v)) return 'Invalid network interface name';
  return null;
});

/** A DNS domain name. */
export const isDomain: Validator = optional((v) =>
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v) ? null : 'Invalid domain name',
);

/** Comma-separated domain names. */
export const isDomainList: Validator = optional((v) => {
  for (const part of v.split(',').map((s) => s.trim())) {
    const why = isDomain(part);
    if (why) return `"${part}": ${why}`;
  }
  return null;
});

/** A dnsmasq lease time: `infinite`, or a number with an optional s/m/h/d/w unit. */
export const isLeaseTime: Validator = optional((v) => (v === 'infinite' || /^\d+[smhdw]?$/.test(v) ? null : 'Invalid lease time'));

/** A bit rate for tc: `100Mbit`, `10kbit`, `1Gbit`, or bits per second. */
export const isBitRate: Validator = optional((v) => (/^\d+(\.\d+)?([kmgt]?bit)?$/i.test(v) ? null : 'Invalid bit rate (e.g. 10Mbit)'));

/** Incus's IsNetworkVLAN: a VLAN ID from 0 to 4094. */
export const isVlanId: Validator = (v) => {
  if (!/^-?\d+$/.test(v)) return `Invalid VLAN ID "${v}"`;
  const n = Number(v);
  return n < 0 || n > 4094 ? `Out of VLAN ID range (0-4094) "${v}"` : null;
};

/** VLAN IDs and ranges (`10,20-25`) expanded; throws the reason a part is invalid. */
export function expandVlanList(v: string): number[] {
  const out: number[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [lo, hi = lo] = part.split('-');
    for (const id of [lo, hi]) {
      const why = isVlanId(id);
      if (why) throw new Error(why);
    }
    if (Number(hi) < Number(lo)) throw new Error(`Invalid VLAN range "${part}"`);
    for (let n = Number(lo); n <= Number(hi); n++) out.push(n);
  }
  return out;
}
