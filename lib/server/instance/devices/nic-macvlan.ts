/**
 * `nictype=macvlan`: a macvlan of the `parent` interface with the
 * instance's own MAC (mode `bridge` unless `mode` says otherwise).
 */
import { existsSync } from 'node:fs';
import { type NicType, commonNic, ctxInterfaceName, macvtapName, nicHwaddr, tempLinkName } from './nic-common';
import type { NicRequest } from './run-config';
import { createMacvlan, deleteLink, ipIn, moveIntoContainer } from './nic-link';
import { deviceError } from './options';

export const macvlanNic: NicType = {
  validate(name, config) {
    if (!config.parent) throw deviceError(name, 'Missing "parent" property');
    if (!existsSync(`/sys/class/net/${config.parent}`)) throw deviceError(name, `Invalid value for "parent": Parent interface "${config.parent}" doesn't exist`);
  },

  nic(ctx, index) {
    const nic: NicRequest = { ...commonNic(ctx, index, 'macvlan'), link: ctx.config.parent, macvlanMode: ctx.config.mode || 'bridge' };
    // A VM's macvlan is a macvtap the QEMU driver makes on the host under this name.
    if (ctx.inst.type === 'virtual-machine') nic.hostName = macvtapName(ctx.inst, ctx.name);
    return nic;
  },

  async hotplug(ctx) {
    const tmp = tempLinkName();
    await createMacvlan(tmp, ctx.config.parent, { hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), mtu: ctx.config.mtu ?? '', mode: ctx.config.mode || 'bridge' });
    try {
      await moveIntoContainer(ctx.pid!, tmp, ctxInterfaceName(ctx));
    } catch (err) {
      await deleteLink(tmp).catch(() => undefined);
      throw err;
    }
  },

  async hotunplug(ctx) {
    await ipIn(ctx.pid!, 'link', 'del', 'dev', ctxInterfaceName(ctx));
  },
};
