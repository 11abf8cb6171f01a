/**
 * `nictype=macvlan`: a macvlan of the `parent` interface with the
 * instance's own MAC (mode `bridge` unless `mode` says otherwise).
 */
import { existsSync } from 'node:fs';
import { type NicType, commonNic, ctxInterfaceName, nicHwaddr, tempLinkName } from './nic-common';
import { createMacvlan, deleteLink, ipIn, moveIntoContainer } from './nic-link';
import { deviceError } from './options';

export const macvlanNic: NicType = {
  validate(name, config) {
    if (!config.parent) throw deviceError(name, 'Missing "parent" property');
    if (!existsSync(`/sys/class/net/${config.parent}`)) throw deviceError(name, `Invalid value for "parent": Parent interface "${config.parent}" doesn't exist`);
  },

  nic(ctx, index) {
    return { ...commonNic(ctx, index, 'macvlan'), link: ctx.config.parent, macvlanMode: ctx.config.mode || 'bridge' };
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
