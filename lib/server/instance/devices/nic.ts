/**
 * `nic` devices: the option rules of the NIC's type, then that type's
 * plumbing (nic-bridged.ts, nic-p2p.ts, nic-macvlan.ts, nic-routed.ts).
 * Start-up goes through liblxc's lxc.net.N config; hot-plug through `ip`.
 */
import { nicIndex, nicKind, NIC_RULES, type NicKind, type NicType } from './nic-common';
import { bridgedNic } from './nic-bridged';
import { macvlanNic } from './nic-macvlan';
import { p2pNic } from './nic-p2p';
import { routedNic } from './nic-routed';
import type { DeviceDriver } from './interface';
import { checkDeviceOptions, deviceError } from './options';

const TYPES: Record<NicKind, NicType> = {
  bridged: bridgedNic,
  p2p: p2pNic,
  macvlan: macvlanNic,
  routed: routedNic,
};

export const nicDevice: DeviceDriver = {
  type: 'nic',

  validate(name, config, ctx) {
    if (!config.nictype && !config.network) throw deviceError(name, 'Missing "nictype" or "network" property');
    const kind = nicKind(config);
    if (!NIC_RULES[kind]) throw deviceError(name, `Invalid value for "nictype": Unsupported NIC type "${String(config.nictype)}"`);
    if (config.network && kind !== 'bridged') throw deviceError(name, 'Cannot use "nictype" property in conjunction with "network" property');
    checkDeviceOptions(name, config, NIC_RULES[kind]);
    TYPES[kind].validate(name, config, ctx);
  },

  async start(ctx) {
    return { nics: [TYPES[nicKind(ctx.config)].nic(ctx, nicIndex(ctx.inst.expandedDevices, ctx.name))] };
  },

  async postStart(ctx) {
    await TYPES[nicKind(ctx.config)].postStart?.(ctx);
  },

  async stop(ctx) {
    await TYPES[nicKind(ctx.config)].stop?.(ctx);
  },

  async hotplug(ctx) {
    await TYPES[nicKind(ctx.config)].hotplug(ctx);
  },

  async hotunplug(ctx) {
    await TYPES[nicKind(ctx.config)].hotunplug(ctx);
  },
};
