/**
 * The bridge interface itself: created with `ip`, given its MTU, MAC,
 * addresses, routes and external ports, and the per-interface sysctls
 * Incus sets (IPv6 on or off, no DAD, forwarding).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { ToolError, ip, ipJson } from '../../tool';
import { flag } from './config';

interface IpAddr {
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** A stable locally administered-looking MAC (Incus's 10:66:6a prefix) derived from the network. */
export function stableMac(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  return ['10', '66', '6a', ...[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

async function sysctl(path: string, value: string): Promise<void> {
  const full = `/proc/sys/net/${path}`;
  if (!existsSync(full)) return;
  await writeFile(full, value);
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const wanted = (v: string | undefined): string | null => (v && v !== 'none' && v !== 'auto' ? v : null);

/** Whether an interface of that name exists and is a bridge. */
export function isBridge(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bridge`);
}

/** Creates the bridge when missing and applies the config to it; safe to run again. */
export async function setupBridge(project: string, name: string, config: Record<string, string>): Promise<void> {
  if (!existsSync(`/sys/class/net/${name}`)) {
    await ip('link', 'add', 'dev', name, 'type', 'bridge');
  } else if (!isBridge(name)) {
    throw new Error(`Network interface "${name}" already exists and is not a bridge`);
  }
  await ip('link', 'set', 'dev', name, 'mtu', config['bridge.mtu'] || '1500');
  // As Incus: VLAN filtering on, so NICs can set `vlan` / `vlan.tagged` (a kernel without it only loses those).
  await ip('link', 'set', 'dev', name, 'type', 'bridge', 'vlan_filtering', '1').catch(() => undefined);
  await ip('link', 'set', 'dev', name, 'address', config['bridge.hwaddr'] || stableMac(`${project}/${name}`));
  const v4 = wanted(config['ipv4.address']);
  const v6 = wanted(config['ipv6.address']);
  if (v6) {
    await sysctl(`ipv6/conf/${name}/disable_ipv6`, '0');
    await sysctl(`ipv6/conf/${name}/autoconf`, '0');
    // dnsmasq binds the address at once: it must not sit in DAD first.
    await sysctl(`ipv6/conf/${name}/accept_dad`, '0');
    await sysctl(`ipv6/conf/${name}/accept_ra`, '0');
  } else {
    await sysctl(`ipv6/conf/${name}/disable_ipv6`, '1');
  }
  await ip('link', 'set', 'dev', name, 'up');
  await reconcileAddresses(name, [v4, v6].filter((x): x is string => x !== null));
  // As Incus: a family's routes only while the bridge has an address of that family.
  if (v4) for (const r of list(config['ipv4.routes'])) await ip('-4', 'route', 'replace', r, 'dev', name, 'proto', 'static');
  if (v6) for (const r of list(config['ipv6.routes'])) await ip('-6', 'route', 'replace', r, 'dev', name, 'proto', 'static');
  for (const port of list(config['bridge.external_interfaces'])) {
    if (!existsSync(`/sys/class/net/${port}`)) throw new Error(`External interface "${port}" doesn't exist`);
    await ip('link', 'set', 'dev', port, 'master', name, 'up');
  }
  if (v4 && flag(config, 'ipv4.routing', true)) await sysctl('ipv4/ip_forward', '1');
  if (v6 && flag(config, 'ipv6.routing', true)) await sysctl('ipv6/conf/all/forwarding', '1');
}

/** Makes the bridge's global addresses exactly `want` (CIDR strings). */
async function reconcileAddresses(name: string, want: string[]): Promise<void> {
  const [cur] = await ipJson<IpAddr>('addr', 'show', 'dev', name);
  const have = (cur?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of have) if (!want.includes(a)) await ip('addr', 'del', a, 'dev', name);
  for (const a of want) {
    if (have.includes(a)) continue;
    await ip('addr', 'add', a, 'dev', name).catch((err: unknown) => {
      if (!(err instanceof ToolError && /File exists/.test(err.stderr))) throw err;
    });
  }
}

/** Routes the config had and no longer has (all of a family whose address went). */
export async function dropRoutes(name: string, before: Record<string, string>, after: Record<string, string>): Promise<void> {
  for (const fam of ['4', '6']) {
    const keep = wanted(after[`ipv${fam}.address`]) ? list(after[`ipv${fam}.routes`]) : [];
    for (const r of list(before[`ipv${fam}.routes`])) {
      if (!keep.includes(r)) await ip(`-${fam}`, 'route', 'del', r, 'dev', name).catch(() => undefined);
    }
  }
}

/** Ports the config had and no longer has are detached from the bridge. */
export async function dropExternalInterfaces(before: Record<string, string>, after: Record<string, string>): Promise<void> {
  const keep = list(after['bridge.external_interfaces']);
  for (const port of list(before['bridge.external_interfaces'])) {
    if (!keep.includes(port)) await ip('link', 'set', 'dev', port, 'nomaster').catch(() => undefined);
  }
}

/** Deletes the bridge (its external ports are detached first, not deleted). */
export async function deleteBridge(name: string, config: Record<string, string>): Promise<void> {
  for (const port of list(config['bridge.external_interfaces'])) await ip('link', 'set', 'dev', port, 'nomaster').catch(() => undefined);
  if (existsSync(`/sys/class/net/${name}`)) await ip('link', 'del', 'dev', name);
}
