/**
 * `nictype=bridged` (and `network=<managed bridge>`): a veth pair whose host
 * end joins the bridge. liblxc makes it at start; hot-plug makes it with
 * `ip` and moves the peer in. A static `ipv4.address` is a DHCP
 * reservation on the managed network (the network layer writes it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { contains, formatIp, formatNetwork, parseCidr, parseIp } from '../../network/cidr';
import { ip } from '../../network/tool';
import type { DeviceStartContext, DeviceValidateContext } from './interface';
import { type NicType, commonNic, ctxInterfaceName, innerEnd, nicHostName, nicHwaddr, tempLinkName } from './nic-common';
import { createVeth, deleteLink, ipIn, moveIntoContainer, setTxQueueLength } from './nic-link';
import type { NicRequest } from './run-config';
import { applyHostLimits, clearHostLimits } from './nic-host-limits';
import { deviceError } from './options';
import { conflict } from '../../errors';
import { setupPortVlans } from './nic-vlan';

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

/**
 * Incus's checkAddressConflict: on the NIC's network and untagged VLAN, no
 * other NIC may carry the same instance DNS name (managed network with DNS),
 * MAC or static address. A 409.
 */
function checkAddressConflict(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void {
  const network = bridgeOf(config);
  const self = ctx.instance;
  if (!self || !ctx.networkNics) return;
  const managed = ctx.network?.(network);
  for (const nic of ctx.networkNics(network)) {
    const same = nic.project === self.project && nic.instance === self.name;
    if (same && nic.device === name) continue;
    if ((config.vlan ?? '') !== (nic.vlan ?? '')) continue;
    if (managed && managed.config['dns.mode'] !== 'none' && nic.instance.toLowerCase() === self.name.toLowerCase()) {
      const dns = nic.instance.toLowerCase();
      if (same) throw conflict(`Instance DNS name "${dns}" conflict between "${name}" and "${nic.device}" because both are connected to same network`);
      throw conflict(`Instance DNS name "${dns}" already used on network`);
    }
    if (config.hwaddr && nic.hwaddr && config.hwaddr.toLowerCase() === nic.hwaddr) {
      throw conflict(`MAC address "${nic.hwaddr}" already defined on another NIC`);
    }
    for (const [key, theirs] of [['ipv4.address', nic.ipv4], ['ipv6.address', nic.ipv6]]) {
      const ours = parseIp((config[key] ?? '').split('/')[0]);
      const other = parseIp(theirs.split('/')[0]);
      if (ours && other && ours.family === other.family && ours.addr === other.addr) {
        throw conflict(`IP address "${formatIp(other.family, other.addr)}" already defined on another NIC`);
      }
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
    const tagged = (config['vlan.tagged'] ?? '').split(',').map((s) => s.trim());
    if (config.vlan && tagged.includes(config.vlan)) {
      throw deviceError(name, `Invalid value for "vlan.tagged": Tagged VLAN ID "${config.vlan}" cannot be the same as untagged VLAN ID`);
    }
    checkAddressConflict(name, config, ctx);
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
    // As Incus, the parent is looked at when the NIC starts (checkParent), not here.
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
