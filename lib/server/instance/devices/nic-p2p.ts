/**
 * `nictype=p2p`: a veth pair with the host end left on its own (no
 * bridge); `ipv4.routes` / `ipv6.routes` point host routes at it.
 */
import { ip } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import { type NicType, commonNic, ctxInterfaceName, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { applyNicLimits, clearNicLimits, createVeth, deleteLink, hasNicLimits, linkExists, moveIntoContainer } from './nic-link';

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

async function hostSide(ctx: DeviceStartContext): Promise<void> {
  const host = nicHostName(ctx.inst, ctx.name, ctx.config);
  await ip('link', 'set', 'dev', host, 'up');
  for (const fam of ['4', '6']) {
    for (const r of list(ctx.config[`ipv${fam}.routes`])) await ip(`-${fam}`, 'route', 'replace', r, 'dev', host);
  }
  if (hasNicLimits(ctx.config)) await applyNicLimits(host, ctx.config);
}

export const p2pNic: NicType = {
  validate() {
    // Nothing beyond the option rules: a p2p NIC needs nothing on the host.
  },

  nic(ctx, index) {
    return { ...commonNic(ctx, index, 'veth'), hostName: nicHostName(ctx.inst, ctx.name, ctx.config) };
  },

  postStart: hostSide,

  async stop(ctx) {
    await clearNicLimits(nicHostName(ctx.inst, ctx.name, ctx.config));
  },

  async hotplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    if (linkExists(host)) throw new Error(`Host interface "${host}" already exists`);
    const peer = tempLinkName();
    await createVeth(host, peer, { hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), mtu: ctx.config.mtu ?? '' });
    try {
      await moveIntoContainer(ctx.pid!, peer, ctxInterfaceName(ctx));
      await hostSide(ctx);
    } catch (err) {
      await deleteLink(host).catch(() => undefined);
      throw err;
    }
  },

  async hotunplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    await clearNicLimits(host);
    await deleteLink(host);
  },
};
