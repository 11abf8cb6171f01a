/**
 * `nic` devices: the option rules of the NIC's type, then that type's
 * plumbing (nic-bridged.ts, nic-p2p.ts, nic-macvlan.ts, nic-routed.ts).
 * Start-up goes through liblxc's lxc.net.N config; hot-plug through `ip`.
 * `attached=false` leaves the NIC out altogether; `connected=false` plugs it
 * with its host-side link down, as Incus's setNICLink does.
 */
import { isFalse } from '../config-keys';
import { ip } from '../../network/tool';
import { nicHostLink, nicIndex, nicKind, NIC_RULES, type NicKind, type NicType } from './nic-common';
import { bridgedNic } from './nic-bridged';
import { macvlanNic } from './nic-macvlan';
import { p2pNic } from './nic-p2p';
import { routedNic } from './nic-routed';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError } from './options';

const TYPES: Record<NicKind, NicType> = {
  bridged: bridgedNic,
  p2p: p2pNic,
  macvlan: macvlanNic,
  routed: routedNic,
};

const attached = (ctx: DeviceStartContext): boolean => !isFalse(ctx.config.attached);

/** Takes the host side of a `connected=false` NIC down once it is plugged. */
async function applyConnected(ctx: DeviceStartContext): Promise<void> {
  const link = nicHostLink(ctx);
  if (link && isFalse(ctx.config.connected)) await ip('link', 'set', 'dev', link, 'down');
}

export const nicDevice: DeviceDriver = {
  type: 'nic',

  validate(name, config, ctx) {
    if (!config.nictype && !config.network) throw deviceError(name, 'Missing "nictype" or "network" property');
    const kind = nicKind(config);
    if (!NIC_RULES[kind]) throw deviceError(name, `Invalid value for "nictype": Unsupported NIC type "${String(config.nictype)}"`);
    if (config.network && kind !== 'bridged') throw deviceError(name, 'Cannot use "nictype" property in conjunction with "network" property');
    if (kind === 'macvlan' && config.connected && ctx.instanceType === 'container') {
      throw deviceError(name, 'The "connected" option is only supported on virtual machines for macvlan NICs');
    }
    checkDeviceOptions(name, config, NIC_RULES[kind]);
    TYPES[kind].validate(name, config, ctx);
  },

  async start(ctx) {
    if (!attached(ctx)) return null;
    return { nics: [TYPES[nicKind(ctx.config)].nic(ctx, nicIndex(ctx.inst.expandedDevices, ctx.name))] };
  },

  async postStart(ctx) {
    if (!attached(ctx)) return;
    await TYPES[nicKind(ctx.config)].postStart?.(ctx);
    await applyConnected(ctx);
  },

  async stop(ctx) {
    if (attached(ctx)) await TYPES[nicKind(ctx.config)].stop?.(ctx);
  },

  async hotplug(ctx) {
    if (!attached(ctx)) return;
    await TYPES[nicKind(ctx.config)].hotplug(ctx);
    await applyConnected(ctx);
  },

  async hotunplug(ctx) {
    if (attached(ctx)) await TYPES[nicKind(ctx.config)].hotunplug(ctx);
  },
};
