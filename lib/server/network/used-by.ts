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

/** Instances with their expanded devices, profiles read once. */
function expandedInstances(db: Db): { rec: InstanceRecord; devices: DevicesMap }[] {
  const profiles = new Map<string, { config: Record<string, string>; devices: DevicesMap }>();
  const profile = (project: string, name: string) => {
    const key = `${project}/${name}`;
    if (!profiles.has(key)) profiles.set(key, db.profiles.get(project, name) ?? { config: {}, devices: {} });
    return profiles.get(key)!;
  };
  // The project whose profiles an instance uses (features.profiles), read once per project.
  const owners = new Map<string, string>();
  const profileProject = (project: string): string => {
    if (!owners.has(project)) owners.set(project, featureProject(project, db.projects.get(project)?.config ?? {}, 'profiles'));
    return owners.get(project)!;
  };
  return db.instances.list(null).map((rec) => ({
    rec,
    devices: expandConfig(
      rec.profiles.map((p) => profile(profileProject(rec.project), p)),
      rec,
    ).devices,
  }));
}

/** API URLs of the profiles and instances using the network. */
export function networkUsedBy(db: Db, name: string): string[] {
  const out: string[] = [];
  for (const p of db.profiles.list('default')) if (uses(p.devices, name)) out.push(`/1.0/profiles/${p.name}`);
  for (const { rec, devices } of expandedInstances(db)) {
    if (uses(devices, name)) out.push(`/1.0/instances/${rec.name}${projectQuery(rec.project)}`);
  }
  return out.sort();
}

/** One entry per instance NIC on the network, with its MAC (set or volatile) and static addresses. */
export function networkStatics(db: Db, name: string): StaticHost[] {
  const out: StaticHost[] = [];
  for (const { rec, devices } of expandedInstances(db)) {
    for (const [dev, cfg] of Object.entries(devices)) {
      if (nicNetworkName(cfg) !== name) continue;
      out.push({
        instance: rec.name,
        project: rec.project,
        device: dev,
        hwaddr: (cfg.hwaddr || rec.config[`volatile.${dev}.hwaddr`] || '').toLowerCase(),
        ipv4: cfg['ipv4.address'] ?? '',
        ipv6: cfg['ipv6.address'] ?? '',
      });
    }
  }
  return out;
}
