/**
 * `nictype=bridged` (and `network=<managed bridge>`): a veth pair whose host
 * end joins the bridge. liblxc makes it at start; hot-plug makes it with
 * `ip` and moves the peer in. A static `ipv4.address` is a DHCP
 * reservation on the managed network (the network layer writes it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { contains, formatNetwork, parseCidr, parseIp } from '../../network/cidr';
import { ip } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import { type NicType, commonNic, ctxInterfaceName, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { applyNicLimits, clearNicLimits, createVeth, deleteLink, hasNicLimits, moveIntoContainer } from './nic-link';
import { deviceError } from './options';

/** The bridge the NIC joins: the managed network's, or `parent`. */
export function bridgeOf(config: Record<string, string>): string {
  return config.network || config.parent || '';
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** Host routes to ipv4.routes / ipv6.routes through the NIC's static address. */
async function routes(ctx: DeviceStartContext, add: boolean): Promise<void> {
  const bridge = bridgeOf(ctx.config);
  for (const fam of ['4', '6']) {
    const via = (ctx.config[`ipv${fam}.address`] ?? '').split('/')[0];
    if (!via) continue;
    for (const r of list(ctx.config[`ipv${fam}.routes`])) {
      if (add) await ip(`-${fam}`, 'route', 'replace', r, 'via', via, 'dev', bridge);
      else await ip(`-${fam}`, 'route', 'del', r, 'via', via, 'dev', bridge).catch(() => undefined);
    }
  }
}

export const bridgedNic: NicType = {
  validate(name, config, ctx) {
    if (config.network) {
      for (const k of ['nictype', 'parent']) {
        if (config[k] && !(k === 'nictype' && config[k] === 'bridged')) {
          throw deviceError(name, `Cannot use "${k}" property in conjunction with "network" property`);
        }
      }
      const net = ctx.network?.(config.network);
      if (ctx.network && !net) throw deviceError(name, `Invalid value for "network": Network "${config.network}" not found`);
      if (net && net.nicType !== 'bridged') throw deviceError(name, `Invalid value for "network": Network "${config.network}" cannot be used with bridged NICs`);
      for (const fam of [4, 6] as const) {
        const key = `ipv${fam}.address`;
        const want = config[key];
        const subnet = net?.config[key] ? parseCidr(net.config[key]) : null;
        if (!want) continue;
        if (net && !subnet) throw deviceError(name, `Invalid value for "${key}": Network "${config.network}" has no IPv${fam} subnet`);
        const addr = parseIp(want.split('/')[0]);
        if (subnet && addr && !contains(subnet, addr)) {
          throw deviceError(name, `Invalid value for "${key}": Address "${want}" is not within the network subnet ${formatNetwork(subnet)}`);
        }
      }
      return;
    }
    if (!config.parent) throw deviceError(name, 'Missing "network" or "parent" property');
    if (!existsSync(`/sys/class/net/${config.parent}`)) throw deviceError(name, `Invalid value for "parent": Parent interface "${config.parent}" doesn't exist`);
    if (!existsSync(`/sys/class/net/${config.parent}/bridge`)) throw deviceError(name, `Invalid value for "parent": Interface "${config.parent}" is not a bridge`);
  },

  nic(ctx, index) {
    return { ...commonNic(ctx, index, 'veth'), link: bridgeOf(ctx.config), hostName: nicHostName(ctx.inst, ctx.name, ctx.config) };
  },

  async postStart(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    if (hasNicLimits(ctx.config)) await applyNicLimits(host, ctx.config);
    await routes(ctx, true);
  },

  async stop(ctx) {
    await clearNicLimits(nicHostName(ctx.inst, ctx.name, ctx.config));
    await routes(ctx, false);
  },

  async hotplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    const bridge = bridgeOf(ctx.config);
    if (!existsSync(`/sys/class/net/${bridge}/bridge`)) throw new Error(`Bridge "${bridge}" doesn't exist`);
    const mtu = ctx.config.mtu || readFileSync(`/sys/class/net/${bridge}/mtu`, 'utf8').trim();
    const peer = tempLinkName();
    await createVeth(host, peer, { hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), mtu });
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
