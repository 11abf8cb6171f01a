/**
 * `nictype=routed`: a veth pair in liblxc's router mode. The instance gets
 * its `ipv4.address`/`ipv6.address` with the host end as gateway
 * (169.254.0.1 / fe80::1 by default, added to the host end); the host routes
 * those addresses to the veth, and with a `parent` it answers ARP/NDP for
 * them there (proxy entries), so they join the parent's network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ip } from '../../network/tool';
import type { DeviceStartContext } from './interface';
import type { NicRequest } from './run-config';
import { type NicType, commonNic, ctxInterfaceName, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { createVeth, deleteLink, ipIn, linkExists, moveIntoContainer } from './nic-link';
import { applyHostLimits, clearHostLimits } from './nic-host-limits';
import { deviceError } from './options';

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** The host end's address (the instance's gateway) per family, or '' when the gateway is `none`. */
function hostAddress(config: Record<string, string>, fam: 4 | 6): string {
  if (config[`ipv${fam}.gateway`] === 'none') return '';
  return config[`ipv${fam}.host_address`] || (fam === 4 ? '169.254.0.1' : 'fe80::1');
}

const plen = (fam: 4 | 6): number => (fam === 4 ? 32 : 128);

/** Host routes, gateway address and proxy neighbour entries (add or remove). */
async function hostSide(ctx: DeviceStartContext, add: boolean): Promise<void> {
  const host = nicHostName(ctx.inst, ctx.name, ctx.config);
  const parent = ctx.config.parent;
  for (const fam of [4, 6] as const) {
    const addrs = list(ctx.config[`ipv${fam}.address`]);
    if (addrs.length === 0) continue;
    const gw = hostAddress(ctx.config, fam);
    if (add && gw && linkExists(host)) await ip(`-${fam}`, 'addr', 'replace', `${gw}/${plen(fam)}`, 'dev', host);
    for (const a of addrs) {
      if (add) await ip(`-${fam}`, 'route', 'replace', `${a}/${plen(fam)}`, 'dev', host);
      if (!parent) continue;
      if (add) await ip(`-${fam}`, 'neigh', 'replace', 'proxy', a, 'dev', parent);
      else await ip(`-${fam}`, 'neigh', 'del', 'proxy', a, 'dev', parent).catch(() => undefined);
    }
  }
  if (add) await applyHostLimits(ctx, host);
}

export const routedNic: NicType = {
  validate(name, config, ctx) {
    if (!config['ipv4.address'] && !config['ipv6.address'] && !ctx.profile) {
      throw deviceError(name, 'Routed NICs need "ipv4.address" or "ipv6.address"');
    }
    if (!config.parent) return;
    if (!existsSync(`/sys/class/net/${config.parent}`)) throw deviceError(name, `Invalid value for "parent": Parent interface "${config.parent}" doesn't exist`);
    const fwd = `/proc/sys/net/ipv4/conf/${config.parent}/forwarding`;
    if (config['ipv4.address'] && existsSync(fwd) && readFileSync(fwd, 'utf8').trim() !== '1') {
      throw deviceError(name, `Invalid value for "parent": IPv4 forwarding is off on "${config.parent}" (net.ipv4.conf.${config.parent}.forwarding=1 is needed)`);
    }
  },

  nic(ctx, index) {
    const nic: NicRequest = { ...commonNic(ctx, index, 'veth'), vethMode: 'router', hostName: nicHostName(ctx.inst, ctx.name, ctx.config) };
    for (const fam of [4, 6] as const) {
      const addrs = list(ctx.config[`ipv${fam}.address`]).map((a) => `${a}/${plen(fam)}`);
      if (addrs.length === 0) continue;
      const gw = hostAddress(ctx.config, fam);
      if (fam === 4) {
        nic.ipv4Addresses = addrs;
        if (gw) nic.ipv4Gateway = gw;
      } else {
        nic.ipv6Addresses = addrs;
        if (gw) nic.ipv6Gateway = gw;
      }
    }
    return nic;
  },

  postStart: (ctx) => hostSide(ctx, true),

  async stop(ctx) {
    await clearHostLimits(ctx, nicHostName(ctx.inst, ctx.name, ctx.config));
    await hostSide(ctx, false);
  },

  async hotplug(ctx) {
    const host = nicHostName(ctx.inst, ctx.name, ctx.config);
    if (linkExists(host)) throw new Error(`Host interface "${host}" already exists`);
    const peer = tempLinkName();
    const name = ctxInterfaceName(ctx);
    await createVeth(host, peer, { hwaddr: nicHwaddr(ctx.inst, ctx.name, ctx.config), mtu: ctx.config.mtu ?? '' });
    try {
      await ip('link', 'set', 'dev', host, 'up');
      await moveIntoContainer(ctx.pid!, peer, name);
      for (const fam of [4, 6] as const) {
        const addrs = list(ctx.config[`ipv${fam}.address`]);
        for (const a of addrs) await ipIn(ctx.pid!, `-${fam}`, 'addr', 'add', `${a}/${plen(fam)}`, 'dev', name);
        const gw = hostAddress(ctx.config, fam);
        if (addrs.length === 0 || !gw) continue;
        await ipIn(ctx.pid!, `-${fam}`, 'route', 'replace', gw, 'dev', name);
        await ipIn(ctx.pid!, `-${fam}`, 'route', 'replace', 'default', 'via', gw, 'dev', name);
      }
      await hostSide(ctx, true);
    } catch (err) {
      await deleteLink(host).catch(() => undefined);
      await hostSide(ctx, false).catch(() => undefined);
      throw err;
    }
  },

  async hotunplug(ctx) {
    await this.stop!(ctx);
    await deleteLink(nicHostName(ctx.inst, ctx.name, ctx.config));
  },
};
