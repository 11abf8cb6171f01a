/**
 * What every NIC type shares: the option rules per `nictype`, the
 * interface name inside the container, and the stable MAC and host-side
 * name. The MAC is recorded in `volatile.<dev>.hwaddr`; when it is not
 * (yet), the same value is derived from the instance's UUID, so it never
 * changes between starts.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DevicesMap } from '../../../api/instance';
import { isBool, isUint, oneOf, type Validator } from '../config/validators';
import { expandVlanList, isBitRate, isCidrList, isHostCidr, isInterfaceName, isIp, isMac, isMtu, isVlanId } from '../../network/validators';
import type { InstanceRuntime } from '../interface';
import type { NicRequest } from './run-config';
import type { DeviceStartContext, DeviceValidateContext } from './interface';
import type { DeviceRules } from './options';

export type NicKind = 'bridged' | 'p2p' | 'macvlan' | 'routed';

/** An IPv4/IPv6 address without a prefix, or with one (Incus accepts both on NICs). */
const isAddress = (family: 4 | 6): Validator => {
  const bare = isIp(family);
  const cidr = isHostCidr(family);
  return (v) => (v.includes('/') ? cidr(v) : bare(v));
};

const COMMON: DeviceRules = {
  nictype: oneOf('bridged', 'p2p', 'macvlan', 'routed'),
  name: isInterfaceName,
  hwaddr: isMac,
  mtu: isMtu,
  'boot.priority': isUint,
  attached: isBool,
  connected: isBool,
};

const LIMITS: DeviceRules = {
  'limits.ingress': isBitRate,
  'limits.egress': isBitRate,
  'limits.max': isBitRate,
  'limits.priority': isUint,
};

/** Option rules of each NIC type (user.* and type aside). */
export const NIC_RULES: Record<NicKind, DeviceRules> = {
  bridged: {
    ...COMMON,
    ...LIMITS,
    network: isInterfaceName,
    parent: isInterfaceName,
    host_name: isInterfaceName,
    'ipv4.address': isAddress(4),
    'ipv6.address': isAddress(6),
    'ipv4.routes': isCidrList(4),
    'ipv6.routes': isCidrList(6),
    'security.mac_filtering': isBool,
    'security.ipv4_filtering': isBool,
    'security.ipv6_filtering': isBool,
    'security.port_isolation': isBool,
    'queue.tx.length': isUint,
    vlan: (v) => (v === '' || v === 'none' ? null : isVlanId(v)),
    'vlan.tagged': (v) => {
      try {
        expandVlanList(v);
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
  p2p: {
    ...COMMON,
    ...LIMITS,
    host_name: isInterfaceName,
    'ipv4.routes': isCidrList(4),
    'ipv6.routes': isCidrList(6),
    'queue.tx.length': isUint,
  },
  macvlan: {
    ...COMMON,
    parent: isInterfaceName,
    mode: oneOf('bridge', 'vepa', 'passthru', 'private'),
  },
  routed: {
    ...COMMON,
    ...LIMITS,
    parent: isInterfaceName,
    host_name: isInterfaceName,
    'ipv4.address': (v) => {
      for (const a of v.split(',').map((s) => s.trim())) {
        const why = isIp(4)(a);
        if (why) return `"${a}": ${why}`;
      }
      return null;
    },
    'ipv6.address': (v) => {
      for (const a of v.split(',').map((s) => s.trim())) {
        const why = isIp(6)(a);
        if (why) return `"${a}": ${why}`;
      }
      return null;
    },
    'ipv4.gateway': (v) => (v === 'auto' || v === 'none' ? null : isIp(4)(v)),
    'ipv6.gateway': (v) => (v === 'auto' || v === 'none' ? null : isIp(6)(v)),
    'ipv4.host_address': isIp(4),
    'ipv6.host_address': isIp(6),
    'queue.tx.length': isUint,
  },
};

/** The NIC type a device stands for (a `network=` NIC on a managed bridge is `bridged`). */
export function nicKind(config: Record<string, string>): NicKind {
  return (config.nictype as NicKind) || 'bridged';
}

const hex = (seed: string, bytes: number): string => createHash('sha256').update(seed).digest('hex').slice(0, bytes * 2);

/** The seed the derived values hang on: the instance's UUID, else its name. */
function seedOf(inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig'>, device: string): string {
  return `${inst.expandedConfig['volatile.uuid'] || `${inst.project}/${inst.name}`}/${device}`;
}

/** A MAC in Incus's range (10:66:6a) derived from a seed. */
export function derivedMac(seed: string): string {
  const h = hex(seed, 3);
  return `10:66:6a:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

/** The NIC's MAC: configured, recorded in volatile, or derived. */
export function nicHwaddr(inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig'>, device: string, config: Record<string, string>): string {
  return (config.hwaddr || inst.expandedConfig[`volatile.${device}.hwaddr`] || derivedMac(seedOf(inst, device))).toLowerCase();
}

/**
 * The host-side link whose state `connected` drives: the veth or tap end,
 * or a VM's macvtap; a container's macvlan has none.
 */
export function nicHostLink(ctx: DeviceStartContext): string | null {
  if (nicKind(ctx.config) !== 'macvlan') return nicHostName(ctx.inst, ctx.name, ctx.config);
  return ctx.inst.type === 'virtual-machine' ? macvtapName(ctx.inst, ctx.name) : null;
}

/**
 * The seed of host-side interface names: the UUID with the project and name,
 * since a backup imported under another name keeps its UUID while the
 * original may still run (their veths must not collide).
 */
function hostSeedOf(inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig'>, device: string): string {
  return `${seedOf(inst, device)}/${inst.project}/${inst.name}/host`;
}

/** The host-side interface name: configured, or `veth` and 8 hex digits derived from the instance. */
export function nicHostName(inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig'>, device: string, config: Record<string, string>): string {
  return config.host_name || inst.expandedConfig[`volatile.${device}.host_name`] || `veth${hex(hostSeedOf(inst, device), 4)}`;
}

/**
 * The `volatile.<dev>.host_name` keys a start records for the server's
 * `instances.nic.host_name`: in `mac` mode `inc` and the MAC without its
 * first byte (Incus's MACDevName) for each veth NIC without a host_name of
 * its own; otherwise none (an empty value removes a key left from before).
 */
export function nicHostNameVolatile(
  inst: Pick<InstanceRuntime, 'project' | 'name'> & { config: Record<string, string> },
  devices: DevicesMap,
  mode: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, d] of Object.entries(devices)) {
    if (d.type !== 'nic' || nicKind(d) === 'macvlan') continue;
    const key = `volatile.${name}.host_name`;
    const want = mode === 'mac' && !d.host_name ? `inc${nicHwaddr({ ...inst, expandedConfig: inst.config }, name, d).replace(/:/g, '').slice(2)}` : '';
    if ((inst.config[key] ?? '') !== want) out[key] = want;
  }
  return out;
}

/**
 * The host-side macvtap of a VM's macvlan NIC: `mac` (Incus's prefix) and 8
 * hex digits derived from the instance, so a restarted daemon finds it again.
 */
export function macvtapName(inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig'>, device: string): string {
  return `mac${hex(hostSeedOf(inst, device), 4)}`;
}

/** A short random interface name for a device being moved into a container. */
export function tempLinkName(): string {
  return `inc${randomBytes(4).toString('hex')}`;
}

/** NIC devices sorted by name (the order liblxc's lxc.net.N indices follow). */
function nicEntries(devices: DevicesMap): [string, Record<string, string>][] {
  return Object.entries(devices)
    .filter(([, d]) => d.type === 'nic')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The index of a NIC among the instance's NICs (its lxc.net.N). */
export function nicIndex(devices: DevicesMap, device: string): number {
  return nicEntries(devices).findIndex(([n]) => n === device);
}

/**
 * The interface name inside the container: `name`, else the first `ethN`
 * no other NIC of the instance names, in device order.
 */
export function nicInterfaceName(devices: DevicesMap, device: string): string {
  const entries = nicEntries(devices);
  const taken = new Set(entries.map(([, d]) => d.name).filter(Boolean));
  let next = 0;
  for (const [n, d] of entries) {
    if (d.name) {
      if (n === device) return d.name;
      continue;
    }
    while (taken.has(`eth${next}`)) next++;
    const name = `eth${next++}`;
    if (n === device) return name;
  }
  return devices[device]?.name || 'eth0';
}

/** The volatile MAC keys NICs of these devices still lack (to be recorded by the caller). */
export function missingNicVolatile(
  inst: Pick<InstanceRuntime, 'project' | 'name'> & { config: Record<string, string> },
  devices: DevicesMap,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, d] of Object.entries(devices)) {
    if (d.type !== 'nic' || d.hwaddr || inst.config[`volatile.${name}.hwaddr`]) continue;
    out[`volatile.${name}.hwaddr`] = nicHwaddr({ ...inst, expandedConfig: inst.config }, name, d);
  }
  return out;
}

/** One NIC type's part of the `nic` device (nic.ts dispatches on `nictype`). */
export interface NicType {
  /** Checks beyond the option rules (parent exists, network fits); throws a 400 naming the key. */
  validate(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void;
  /** The interface the driver creates at start (index: position among the instance's NICs). */
  nic(ctx: DeviceStartContext, index: number): NicRequest;
  /** Host-side work once the container runs (routes, bandwidth limits). */
  postStart?(ctx: DeviceStartContext): Promise<void>;
  /** Host-side cleanup after the container stopped. */
  stop?(ctx: DeviceStartContext): Promise<void>;
  hotplug(ctx: DeviceStartContext): Promise<void>;
  hotunplug(ctx: DeviceStartContext): Promise<void>;
}

/** The interface name inside the container for the device in ctx. */
export function ctxInterfaceName(ctx: DeviceStartContext): string {
  return nicInterfaceName({ ...ctx.inst.expandedDevices, [ctx.name]: ctx.config }, ctx.name);
}

/** The container end of the NIC (its init and interface name); null for a VM. */
export function innerEnd(ctx: DeviceStartContext): { pid: number; name: string } | null {
  return ctx.inst.type === 'container' && ctx.pid ? { pid: ctx.pid, name: ctxInterfaceName(ctx) } : null;
}

/** The fields every NIC type shares. */
export function commonNic(ctx: DeviceStartContext, index: number, kind: NicRequest['kind']): NicRequest {
  const nic: NicRequest = { name: ctxInterfaceName(ctx), index, kind, hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), device: ctx.name };
  if (ctx.config.mtu) nic.mtu = ctx.config.mtu;
  return nic;
}

/**
 * Host-side interface names of the instance's NICs, keyed by their name
 * inside the container (for the `host_name` of GET .../state). A VM's
 * macvlan NIC has one (its macvtap); a container's has none.
 */
export function nicHostNames(
  inst: Pick<InstanceRuntime, 'project' | 'name' | 'expandedConfig' | 'expandedDevices'> & { type?: InstanceRuntime['type'] },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [dev, d] of Object.entries(inst.expandedDevices)) {
    if (d.type !== 'nic') continue;
    if (nicKind(d) !== 'macvlan') out[nicInterfaceName(inst.expandedDevices, dev)] = nicHostName(inst, dev, d);
    else if (inst.type === 'virtual-machine') out[nicInterfaceName(inst.expandedDevices, dev)] = macvtapName(inst, dev);
  }
  return out;
}
