/**
 * What a project's limits and restrictions are checked against (Incus's
 * fetchProject and expandInstancesConfigAndDevices in
 * internal/server/project/permissions.go): the project's config, the
 * profiles its instances use, its instances and its custom volumes.
 * Loading is skipped for projects without limits or restrictions, so the
 * common case costs one indexed row read.
 */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import type { Queries } from '../db';
import { isTrue } from '../instance/config-keys';
import { expandConfig } from '../instance/expand';
import { featureProject } from './features';

/** An instance as the checks see it: its own config and devices, or the expanded ones (see {@link expandInstances}). */
export interface InstanceEntity {
  name: string;
  type: string;
  profiles: string[];
  config: ConfigMap;
  devices: DevicesMap;
}

export interface ProfileEntity {
  name: string;
  config: ConfigMap;
  devices: DevicesMap;
}

export interface VolumeEntity {
  name: string;
  pool: string;
  config: ConfigMap;
}

export interface ProjectInfo {
  name: string;
  config: ConfigMap;
  profiles: ProfileEntity[];
  instances: InstanceEntity[];
  volumes: VolumeEntity[];
}

/** Whether any limits.* key is set or `restricted` is true (Incus's projectHasLimitsOrRestrictions). */
export function hasLimitsOrRestrictions(config: ConfigMap): boolean {
  for (const k of Object.keys(config)) if (k.startsWith('limits.')) return true;
  return isTrue(config.restricted);
}

/**
 * The project and everything its limits are counted over; null when the
 * project is unknown, or when `skipIfNoLimits` and it has neither limits
 * nor restrictions (then nothing else is read).
 */
export async function fetchProjectInfo(db: Queries, name: string, skipIfNoLimits: boolean): Promise<ProjectInfo | null> {
  const p = await db.projects.get(name);
  if (!p) return null;
  if (skipIfNoLimits && !hasLimitsOrRestrictions(p.config)) return null;
  const profileProject = featureProject(name, p.config, 'profiles');
  const profiles = (await db.profiles.list(profileProject)).map((pr) => ({ name: pr.name, config: pr.config, devices: pr.devices }));
  const instances = (await db.instances.list(name)).map((i) => ({ name: i.name, type: i.type, profiles: i.profiles, config: i.config, devices: i.devices }));
  return { name, config: p.config, profiles, instances, volumes: await customVolumes(db, name) };
}

/** Custom volumes of the project on every pool (they count against limits.disk). */
async function customVolumes(db: Queries, project: string): Promise<VolumeEntity[]> {
  const out: VolumeEntity[] = [];
  for (const pool of await db.pools.list()) {
    for (const v of await db.pools.volumes(pool.name)) {
      if (v.project === project && v.type === 'custom') out.push({ name: v.name, pool: pool.name, config: v.config });
    }
  }
  return out;
}

/** The instances with their profiles applied (a profile that is not there adds nothing, as in Incus). */
export function expandInstances(instances: readonly InstanceEntity[], profiles: readonly ProfileEntity[]): InstanceEntity[] {
  const byName = new Map(profiles.map((p) => [p.name, p]));
  return instances.map((i) => {
    const layers = i.profiles.map((n) => byName.get(n) ?? { config: {}, devices: {} });
    const e = expandConfig(layers, i);
    return { ...i, config: e.config, devices: e.devices };
  });
}
