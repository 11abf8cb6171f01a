/**
 * The managed bridge: a Linux bridge with the network's addresses, one
 * dnsmasq for DHCP/RA/DNS run by the daemon, and NAT/firewall chains in
 * the daemon's nftables table. Everything it makes is named after the
 * network so that delete can remove all of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkLease, NetworkState } from '../../../../api/network';
import { badRequest } from '../../../errors';
import type { Logger } from '../../../log';
import { parseCidr } from '../../cidr';
import type { DnsmasqSupervisor } from '../../dnsmasq';
import { interfaceState } from '../../host-interfaces';
import type { AddressUse, NetworkDriver, NetworkDriverInfo, NetworkSpec, StaticHost } from '../../interface';
import { mergeLeases, parseLeaseFile } from '../../leases';
import { type FamilyRules, type NetworkFirewall, applyNetworkFirewall, clearNetworkFirewall } from '../../nftables';
import { isInterfaceName } from '../../validators';
import { fillBridgeConfig, flag, validateBridgeConfig } from './config';
import { dnsmasqArgs, dnsmasqPaths, rawConfigText, staticHostFile, staticHostLine, usesDnsmasq } from './dnsmasq-args';
import { deleteBridge, dropExternalInterfaces, dropRoutes, setupBridge } from './link';
import { releaseLeases } from '../../dhcp-release';

export interface BridgeDriverDeps {
  varDir: string;
  log: Logger;
  debug: boolean;
  dnsmasq: DnsmasqSupervisor;
}

/** Whether the host has IPv6 enabled by default (Incus then gives bridges an IPv6 subnet). */
function hostHasIpv6(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

/** The unprivileged user and group dnsmasq drops to, when the host has them. */
function dnsmasqUser(): { user: string | null; group: string | null } {
  const has = (file: string, name: string): boolean => {
    try {
      return readFileSync(file, 'utf8').split('\n').some((l) => l.split(':')[0] === name);
    } catch {
      return false;
    }
  };
  return { user: has('/etc/passwd', 'nobody') ? 'nobody' : null, group: has('/etc/group', 'nogroup') ? 'nogroup' : null };
}

function familyRules(config: Record<string, string>, fam: 4 | 6): FamilyRules | null {
  const v = config[`ipv${fam}.address`];
  const subnet = v && v !== 'none' ? parseCidr(v) : null;
  if (!subnet) return null;
  return {
    subnet,
    nat: flag(config, `ipv${fam}.nat`, false),
    natAddress: config[`ipv${fam}.nat.address`] ?? '',
    firewall: flag(config, `ipv${fam}.firewall`, true),
    routing: flag(config, `ipv${fam}.routing`, true),
  };
}

/** The nftables rules a bridge's config asks for. */
export function bridgeFirewall(name: string, config: Record<string, string>): NetworkFirewall {
  return { name, v4: familyRules(config, 4), v6: familyRules(config, 6) };
}

/** What a managed bridge offers. */
export const BRIDGE_INFO: NetworkDriverInfo = { type: 'bridge', nicType: 'bridged', dhcp: true, nat: true, hostInterface: true };

export class BridgeDriver implements NetworkDriver {
  readonly info = BRIDGE_INFO;
  private readonly user = dnsmasqUser();

  constructor(private readonly deps: BridgeDriverDeps) {}

  validateName(name: string): void {
    // The name is also the interface, the nft chain suffix and a directory: keep it to plain characters.
    const why = isInterfaceName(name) ?? (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) ? null : 'Only letters, digits, "-", "_" and "." are allowed');
    if (why || name === '') throw badRequest(`Invalid network name "${name}": ${why ?? 'Empty name'}`);
  }

  fillConfig(name: string, config: Record<string, string>, use: AddressUse, stage: 'create' | 'update'): Record<string, string> {
    return fillBridgeConfig(name, config, use, { ipv6: hostHasIpv6(), defaults: stage === 'create' });
  }

  validate(name: string, config: Record<string, string>, use: AddressUse): void {
    validateBridgeConfig(name, config, use);
  }

  async start(net: NetworkSpec, statics: StaticHost[]): Promise<void> {
    const paths = dnsmasqPaths(this.deps.varDir, net.name);
    await mkdir(paths.hosts, { recursive: true, mode: 0o755 });
    await setupBridge(net.project, net.name, net.config);
    await applyNetworkFirewall(bridgeFirewall(net.name, net.config));
    if (!usesDnsmasq(net.config)) {
      await this.deps.dnsmasq.stop(net.name, paths);
      // As Incus: no dnsmasq, no leases file or host entries left behind.
      await rm(paths.leases, { force: true });
      await this.writeStatics(net, []);
      return;
    }
    await writeFile(paths.raw, rawConfigText(net.config), { mode: 0o644 });
    await this.writeStatics(net, statics);
    if (!existsSync(paths.leases)) await writeFile(paths.leases, '', { mode: 0o644 });
    const args = dnsmasqArgs(net.name, net.config, paths, { ...this.user, debug: this.deps.debug });
    await this.deps.dnsmasq.ensure(net.name, args, paths);
  }

  async update(before: NetworkSpec, after: NetworkSpec, statics: StaticHost[]): Promise<void> {
    await dropRoutes(after.name, before.config, after.config);
    await dropExternalInterfaces(before.config, after.config);
    await this.start(after, statics);
  }

  async delete(net: NetworkSpec): Promise<void> {
    const paths = dnsmasqPaths(this.deps.varDir, net.name);
    await this.deps.dnsmasq.stop(net.name, paths);
    await clearNetworkFirewall(net.name);
    await deleteBridge(net.name, net.config);
    await rm(paths.dir, { recursive: true, force: true });
  }

  async setStatics(net: NetworkSpec, statics: StaticHost[]): Promise<void> {
    // As Incus: entries only while dnsmasq serves the network (start() writes them all again).
    const on = usesDnsmasq(net.config);
    if ((await this.writeStatics(net, on ? statics : [])) && on) this.deps.dnsmasq.reload(net.name);
  }

  /** Writes one hosts file per NIC and removes stale ones; true when anything changed. */
  private async writeStatics(net: NetworkSpec, statics: StaticHost[]): Promise<boolean> {
    const dir = dnsmasqPaths(this.deps.varDir, net.name).hosts;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const want = new Map(statics.filter((h) => h.hwaddr).map((h) => [staticHostFile(h), staticHostLine(h)]));
    let changed = false;
    for (const f of await readdir(dir)) {
      if (want.has(f)) continue;
      // The NIC is gone: its leases go with it (the line is `hwaddr[,...],name`).
      const line = (await readFile(join(dir, f), 'utf8').catch(() => '')).trim().split(',');
      if (line.length > 1) {
        await releaseLeases(net.name, dnsmasqPaths(this.deps.varDir, net.name).leases, line[0]!, line[line.length - 1]!).catch((err: Error) =>
          this.deps.log.warn('Failed to release DHCP leases', { network: net.name, err: err.message }),
        );
      }
      await unlink(join(dir, f));
      changed = true;
    }
    for (const [f, text] of want) {
      const cur = await readFile(join(dir, f), 'utf8').catch(() => null);
      if (cur === text) continue;
      await writeFile(join(dir, f), text, { mode: 0o644 });
      changed = true;
    }
    return changed;
  }

  async state(net: NetworkSpec): Promise<NetworkState> {
    const st = await interfaceState(net.name);
    if (!st) throw badRequest(`Network interface "${net.name}" not found`);
    return st;
  }

  async leases(net: NetworkSpec, statics: StaticHost[]): Promise<NetworkLease[]> {
    const text = await readFile(dnsmasqPaths(this.deps.varDir, net.name).leases, 'utf8').catch(() => '');
    return mergeLeases(net.name, net.config, statics, parseLeaseFile(text));
  }

  release(): void {
    this.deps.dnsmasq.release();
  }
}
