/**
 * `nictype=bridged` (and `network=<managed bridge>`): a veth pair whose host
 * end joins the bridge. liblxc makes it at start; hot-plug makes it with
 * `ip` and moves the peer in. A static `ipv4.address` is a DHCP
 * reservation on the managed network (the network layer writes it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { ip } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import { checkBridgedConfig } from './nic-bridged-checks';
import { type NicType, commonNic, ctxInterfaceName, innerEnd, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { createVeth, deleteLink, ipIn, moveIntoContainer, setTxQueueLength } from './nic-link';
import type { NicRequest } from './run-config';
import { applyHostLimits, clearHostLimits } from './nic-host-limits';
import { setupPortIsolation, setupPortVlans } from './nic-vlan';

/** The bridge the NIC joins: the managed network's, or `parent`. */
export function bridgeOf(config: Record<string, string>): string {
  return config.network || config.parent || '';
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/**
 * Host routes to ipv4.routes / ipv6.routes on the bridge, through the NIC's
 * static address when it has one (proto boot, as Incus's networkNICRouteAdd).
 */
async function routes(ctx: DeviceStartContext, add: boolean): Promise<void> {
  const bridge = bridgeOf(ctx.config);
  for (const fam of ['4', '6']) {
    const via = (ctx.config[`ipv${fam}.address`] ?? '').split('/')[0];
    const through = via && via !== 'none' ? ['via', via] : [];
    for (const r of list(ctx.config[`ipv${fam}.routes`])) {
      if (add) await ip(`-${fam}`, 'route', 'replace', r, ...through, 'dev', bridge, 'proto', 'boot');
      else await ip(`-${fam}`, 'route', 'del', r, ...through, 'dev', bridge, 'proto', 'boot').catch(() => undefined);
    }
  }
}

/** Incus's validateEnvironment: the bridge must be there when the NIC starts. */
function checkParent(ctx: DeviceStartContext): void {
  const bridge = bridgeOf(ctx.config);
  const dir = `${ctx.host.sysRoot}/class/net/${bridge}`;
  if (!existsSync(dir)) throw new Error(`Parent device "${bridge}" doesn't exist`);
  if (!existsSync(`${dir}/bridge`)) throw new Error(`Parent device "${bridge}" is not a bridge`);
}

export const bridgedNic: NicType = {
  validate(name, config, ctx) {
    checkBridgedConfig(name, config, ctx);
  },

  nic(ctx, index) {
    checkParent(ctx);
    const nic: NicRequest = { ...commonNic(ctx, index, 'veth'), link: bridgeOf(ctx.config), hostName: nicHostName(ctx.inst, ctx.name, ctx.config) };
    // liblxc would give both ends the NIC's MTU and a lower one lowers the bridge: both start at
    // the bridge's, and postStart sets the container end's.
    if (ctx.inst.type === 'container') delete nic.mtu;
    return nic;
  },

  async postStart(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    const bridge = bridgeOf(ctx.config);
    const inner = innerEnd(ctx);
    if (inner && ctx.config.mtu) await ipIn(inner.pid, 'link', 'set', 'dev', inner.name, 'mtu', ctx.config.mtu);
    await setTxQueueLength(host, innerEnd(ctx), ctx.config['queue.tx.length']);
    await setupPortVlans(bridge, host, ctx.config);
    await setupPortIsolation(host, ctx.config);
    await applyHostLimits(ctx, host);
    await routes(ctx, true);
  },

  async stop(ctx) {
    await clearHostLimits(ctx, nicHostName(ctx.inst, ctx.name, ctx.config));
    await routes(ctx, false);
  },

  async hotplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    const bridge = bridgeOf(ctx.config);
    checkParent(ctx);
    const bridgeMtu = readFileSync(`/sys/class/net/${bridge}/mtu`, 'utf8').trim();
    const peer = tempLinkName();
    await createVeth(host, peer, { hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), mtu: ctx.config.mtu || bridgeMtu, hostMtu: bridgeMtu });
    try {
      await ip('link', 'set', 'dev', host, 'master', bridge);
      await ip('link', 'set', 'dev', host, 'up');
      await moveIntoContainer(ctx.pid!, peer, ctxInterfaceName(ctx));
      await this.postStart!(ctx);
    } catch (err) {
      await deleteLink(host).catch(() => undefined);
      throw err;
    }
  },

  async hotunplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    await this.stop!(ctx);
    await deleteLink(host);
  },
};
