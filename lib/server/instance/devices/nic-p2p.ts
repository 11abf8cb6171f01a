/**
 * `nictype=p2p`: a veth pair with the host end left on its own (no
 * bridge); `ipv4.routes` / `ipv6.routes` point host routes at it.
 */
import { ip } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import { type NicType, commonNic, ctxInterfaceName, innerEnd, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { createVeth, deleteLink, linkExists, moveIntoContainer, setTxQueueLength } from './nic-link';
import { applyHostLimits, clearHostLimits } from './nic-host-limits';

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

async function hostSide(ctx: DeviceStartContext): Promise<void> {
  const host = nicHostName(ctx.inst, ctx.name, ctx.config);
  await ip('link', 'set', 'dev', host, 'up');
  await setTxQueueLength(host, innerEnd(ctx), ctx.config['queue.tx.length']);
  for (const fam of ['4', '6']) {
    for (const r of list(ctx.config[`ipv${fam}.routes`])) await ip(`-${fam}`, 'route', 'replace', r, 'dev', host);
  }
  await applyHostLimits(ctx, host);
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
    await clearHostLimits(ctx, nicHostName(ctx.inst, ctx.name, ctx.config));
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
    await clearHostLimits(ctx, host);
    await deleteLink(host);
  },
};
