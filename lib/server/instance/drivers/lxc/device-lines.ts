/** The devices' run configuration (devices/run-config.ts) as liblxc config lines. */
import type { DeviceRunConfig, MountRequest, NicRequest } from '../../devices/run-config';
import { fstabEscape } from '../../devices/paths';

/** lxc.mount.entry for one mount (liblxc takes the target relative to the rootfs). */
function mountLine(m: MountRequest): string {
  const target = fstabEscape(m.target.replace(/^\/+/, ''));
  if (m.fstype) return `lxc.mount.entry = ${fstabEscape(m.source)} ${target} ${m.fstype} ${[...(m.options ?? []), 'create=dir'].join(',')} 0 0`;
  const opts = [m.recursive ? 'rbind' : 'bind', m.kind === 'dir' ? 'create=dir' : 'create=file'];
  if (m.readonly) opts.push('ro');
  if (m.propagation) opts.push(m.propagation);
  if (m.idmap) opts.push('idmap=container');
  return `lxc.mount.entry = ${fstabEscape(m.source)} ${target} none ${opts.join(',')} 0 0`;
}

/** lxc.net.<index>.* for one NIC. */
function nicLines(n: NicRequest): string[] {
  const p = `lxc.net.${n.index}`;
  const lines = [`${p}.type = ${n.kind}`, `${p}.name = ${n.name}`, `${p}.flags = up`, `${p}.hwaddr = ${n.hwaddr}`];
  if (n.mtu) lines.push(`${p}.mtu = ${n.mtu}`);
  if (n.kind === 'veth' && n.vethMode === 'router') lines.push(`${p}.veth.mode = router`);
  if (n.link) lines.push(`${p}.link = ${n.link}`);
  if (n.kind === 'macvlan') lines.push(`${p}.macvlan.mode = ${n.macvlanMode ?? 'bridge'}`);
  if (n.hostName) lines.push(`${p}.veth.pair = ${n.hostName}`);
  for (const a of n.ipv4Addresses ?? []) lines.push(`${p}.ipv4.address = ${a}`);
  if (n.ipv4Gateway && n.ipv4Addresses?.length) lines.push(`${p}.ipv4.gateway = ${n.ipv4Gateway}`);
  for (const a of n.ipv6Addresses ?? []) lines.push(`${p}.ipv6.address = ${a}`);
  if (n.ipv6Gateway && n.ipv6Addresses?.length) lines.push(`${p}.ipv6.gateway = ${n.ipv6Gateway}`);
  return lines;
}

/**
 * liblxc lines for the devices' needs, in the order the devices asked.
 * devicesCgroup: version of the devices controller (0: none, rules are dropped).
 */
export function deviceLxcLines(c: Required<DeviceRunConfig>, devicesCgroup: 0 | 1 | 2): string[] {
  const lines = c.mounts.map(mountLine);
  for (const n of c.nics) lines.push(...nicLines(n));
  const key = devicesCgroup === 1 ? 'lxc.cgroup.devices.allow' : devicesCgroup === 2 ? 'lxc.cgroup2.devices.allow' : null;
  if (key) for (const r of c.allowDevices) lines.push(`${key} = ${r.type} ${r.major}:${r.minor} rwm`);
  return lines;
}
