/**
 * Which profiles and instances use a managed network (a `nic` device with
 * `network=<name>`, or a bridged NIC whose `parent` is the bridge), and the
 * DHCP reservations / DNS names their NICs ask for.
 */
import type { DeviceConfig, DevicesMap } from '../../api/instance';
import type { Db } from '../db';
import type { InstanceRecord } from '../db/instances';
import { expandConfig } from '../instance/expand';
import { featureProject } from '../projects/features';
import type { StaticHost } from './interface';
import { parseIp } from './cidr';

/** The managed network a device connects to, or null. */
export function nicNetworkName(dev: DeviceConfig): string | null {
  if (dev.type !== 'nic') return null;
  if (dev.network) return dev.network;
  if (dev.nictype === 'bridged' && dev.parent) return dev.parent;
  return null;
}

function uses(devices: DevicesMap, name: string): boolean {
  return Object.values(devices).some((d) => nicNetworkName(d) === name);
}

const projectQuery = (project: string): string => (project === 'default' ? '' : `?project=${project}`);

/** Instances with their expanded devices, each project's profiles read once. */
export async function expandedInstances(db: Db): Promise<{ rec: InstanceRecord; devices: DevicesMap }[]> {
  const projects = new Map((await db.projects.list()).map((p) => [p.name, p]));
  // The project whose profiles an instance uses (features.profiles).
  const owner = (project: string): string => featureProject(project, projects.get(project)?.config ?? {}, 'profiles');
  const instances = await db.instances.list(null);
  const profiles = new Map<string, Map<string, { config: Record<string, string>; devices: DevicesMap }>>();
  for (const o of new Set(instances.map((rec) => owner(rec.project)))) {
    profiles.set(o, new Map((await db.profiles.list(o)).map((p) => [p.name, p])));
  }
  const profile = (project: string, name: string) => profiles.get(project)?.get(name) ?? { config: {}, devices: {} };
  return instances.map((rec) => ({
    rec,
    devices: expandConfig(
      rec.profiles.map((p) => profile(owner(rec.project), p)),
      rec,
    ).devices,
  }));
}

/** API URLs of the profiles and instances using the network. */
export async function networkUsedBy(db: Db, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await db.profiles.list('default')) if (uses(p.devices, name)) out.push(`/1.0/profiles/${p.name}`);
  for (const { rec, devices } of await expandedInstances(db)) {
    if (uses(devices, name)) out.push(`/1.0/instances/${rec.name}${projectQuery(rec.project)}`);
  }
  return out.sort();
}

/**
 * One entry per instance NIC on the network, with its MAC (set or volatile)
 * and static addresses. A NIC whose static address an older instance's NIC
 * already holds (a copy keeps its source's addresses) is left out, as Incus
 * never registers it: it gets no DHCP reservation, and starting its
 * instance fails on the clash.
 */
export async function networkStatics(db: Db, name: string): Promise<StaticHost[]> {
  const out: StaticHost[] = [];
  const held = new Map<string, number>();
  const sameAddress = (vlan: string, a: string): string | null => {
    const ip = parseIp(a.split('/')[0]!);
    return ip ? `${vlan}/${ip.family}/${ip.addr}` : null;
  };
  const byAge = (await expandedInstances(db)).sort((a, b) => a.rec.id - b.rec.id);
  for (const { rec, devices } of byAge) {
    for (const [dev, cfg] of Object.entries(devices)) {
      if (nicNetworkName(cfg) !== name) continue;
      const keys = [cfg['ipv4.address'] ?? '', cfg['ipv6.address'] ?? ''].map((a) => sameAddress(cfg.vlan ?? '', a)).filter((k): k is string => k !== null);
      if (keys.some((k) => held.has(k) && held.get(k) !== rec.id)) continue;
      for (const k of keys) held.set(k, rec.id);
      out.push({
        instance: rec.name,
        project: rec.project,
        device: dev,
        hwaddr: (cfg.hwaddr || rec.config[`volatile.${dev}.hwaddr`] || '').toLowerCase(),
        ipv4: cfg['ipv4.address'] ?? '',
        ipv6: cfg['ipv6.address'] ?? '',
        vlan: cfg.vlan ?? '',
      });
    }
  }
  return out;
}
