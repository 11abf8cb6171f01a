/**
 * `nictype=macvlan`: a macvlan of the `parent` interface with the
 * instance's own MAC (mode `bridge` unless `mode` says otherwise).
 */
import { existsSync } from 'node:fs';
import { type NicType, commonLines, ctxInterfaceName, nicHwaddr, tempLinkName } from './nic-common';
import { createMacvlan, deleteLink, ipIn, moveIntoContainer } from './nic-link';
import { deviceError } from './options';

export const macvlanNic: NicType = {
  validate(name, config) {
    if (!config.parent) throw deviceError(name, 'Missing "parent" property');
    if (!existsSync(`/sys/class/net/${config.parent}`)) throw deviceError(name, `Invalid value for "parent": Parent interface "${config.parent}" doesn't exist`);
  },

  lxcLines(ctx, index) {
    const p = `lxc.net.${index}`;
    return [...commonLines(ctx, index, 'macvlan'), `${p}.link = ${ctx.config.parent}`, `${p}.macvlan.mode = ${ctx.config.mode || 'bridge'}`];
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
