/**
 * Config checks of bridged NICs, as Incus's nicBridged.validateConfig: keys
 * banned beside `network`, the static addresses and VLANs against the managed
 * network (checkWithManagedNetwork), and clashes with the other NICs on it
 * (checkAddressConflict).
 */
import { isTrue } from '../config-keys';
import { conflict } from '../../errors';
import { contains, formatIp, parseCidr, parseIp } from '../../network/cidr';
import { expandVlanList } from '../../network/validators';
import type { DeviceValidateContext } from './interface';
import { deviceError } from './options';

type ManagedNetwork = { nicType: string; config: Record<string, string> };

const isTrueOrEmpty = (v: string | undefined): boolean => !v || isTrue(v);

/** The static addresses against the managed network `netName` (DHCP on, inside its subnet, not its own). */
function checkWithManagedNetwork(name: string, config: Record<string, string>, netName: string, net: ManagedNetwork): void {
  if (net.nicType !== 'bridged') throw deviceError(name, 'Specified network must be of type bridge');
  for (const fam of [4, 6] as const) {
    const key = `ipv${fam}.address`;
    const want = config[key] ?? '';
    if (!want || want.includes('/')) continue;
    const filtering = isTrue(config[`security.ipv${fam}_filtering`]);
    const subnet = isTrueOrEmpty(net.config[`ipv${fam}.dhcp`]) ? parseCidr(net.config[key] ?? '') : null;
    if (fam === 4 && !subnet && !filtering) {
      throw deviceError(name, `Cannot specify "ipv4.address" when DHCP is disabled (unless using security.ipv4_filtering) on network "${netName}"`);
    }
    if (fam === 6 && (!subnet || !isTrue(net.config['ipv6.dhcp.stateful'])) && !filtering) {
      throw deviceError(name, `Cannot specify "ipv6.address" when DHCP or "ipv6.dhcp.stateful" are disabled (unless using security.ipv6_filtering) on network "${netName}"`);
    }
    const addr = parseIp(want);
    if (subnet && want !== 'none' && !(addr && contains(subnet, addr))) {
      throw deviceError(name, `Device IP address "${want}" not within network "${netName}" subnet`);
    }
    const own = parseIp((net.config[key] ?? '').split('/')[0]!);
    if (!own) continue;
    if (want === 'none' && !filtering) throw deviceError(name, `Cannot have ipv${fam}.address as none unless using security.ipv${fam}_filtering`);
    if (addr && addr.family === own.family && addr.addr === own.addr) {
      throw deviceError(name, `IP address "${want}" is assigned to parent managed network device "${netName}"`);
    }
  }
  if (config.vlan === '0') throw deviceError(name, 'VLAN ID 0 is not allowed for native Linux bridges');
  if (expandVlanList(config['vlan.tagged'] ?? '').includes(0)) throw deviceError(name, 'VLAN tagged ID 0 is not allowed for native Linux bridges');
}

/**
 * Incus's checkAddressConflict: on the NIC's network and untagged VLAN, no
 * other NIC may carry the same instance DNS name (managed network with DNS),
 * MAC or static address. A 409.
 */
function checkAddressConflict(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void {
  const network = config.network || config.parent || '';
  const self = ctx.instance;
  if (!self || !ctx.networkNics) return;
  const managed = ctx.network?.(network);
  for (const nic of ctx.networkNics(network)) {
    const same = nic.project === self.project && nic.instance === self.name;
    if (same && nic.device === name) continue;
    if ((config.vlan ?? '') !== (nic.vlan ?? '')) continue;
    if (managed && managed.config['dns.mode'] !== 'none' && nic.instance.toLowerCase() === self.name.toLowerCase()) {
      const dns = nic.instance.toLowerCase();
      if (same) throw conflict(`Instance DNS name "${dns}" conflict between "${name}" and "${nic.device}" because both are connected to same network`);
      throw conflict(`Instance DNS name "${dns}" already used on network`);
    }
    if (config.hwaddr && nic.hwaddr && config.hwaddr.toLowerCase() === nic.hwaddr) {
      throw conflict(`MAC address "${nic.hwaddr}" already defined on another NIC`);
    }
    for (const [key, theirs] of [['ipv4.address', nic.ipv4], ['ipv6.address', nic.ipv6]]) {
      const ours = parseIp((config[key] ?? '').split('/')[0]);
      const other = parseIp(theirs.split('/')[0]);
      if (ours && other && ours.family === other.family && ours.addr === other.addr) {
        throw conflict(`IP address "${formatIp(other.family, other.addr)}" already defined on another NIC`);
      }
    }
  }
}

/** Every config check of a bridged NIC; throws a 400 (409 for a clash) naming the device. */
export function checkBridgedConfig(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void {
  const tagged = (config['vlan.tagged'] ?? '').split(',').map((s) => s.trim());
  if (config.vlan && tagged.includes(config.vlan)) {
    throw deviceError(name, `Invalid value for "vlan.tagged": Tagged VLAN ID "${config.vlan}" cannot be the same as untagged VLAN ID`);
  }
  if (config.network) {
    for (const k of ['nictype', 'parent', 'mtu']) {
      if (config[k]) throw deviceError(name, `Cannot use "${k}" property in conjunction with "network" property`);
    }
    const net = ctx.network?.(config.network);
    if (ctx.network && !net) throw deviceError(name, `Error loading network config for "${config.network}": Network not found`);
    if (net) checkWithManagedNetwork(name, config, config.network, net);
  } else {
    if (!config.parent) throw deviceError(name, 'Missing "network" or "parent" property');
    // A parent that is a managed network is checked as one; any other is looked at when the NIC starts.
    const net = ctx.network?.(config.parent);
    if (net) checkWithManagedNetwork(name, config, config.parent, net);
  }
  if ((isTrue(config['security.ipv4_filtering']) || isTrue(config['security.ipv6_filtering'])) && (config.vlan || config['vlan.tagged'])) {
    throw deviceError(name, 'IP filtering cannot be used with VLAN filtering');
  }
  checkAddressConflict(name, config, ctx);
}
