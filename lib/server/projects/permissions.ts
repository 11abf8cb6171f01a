/**
 * Where project limits and restrictions are enforced (Incus's
 * AllowInstanceCreation, AllowInstanceUpdate, AllowProfileUpdate,
 * AllowProjectUpdate, AllowSnapshotCreation and AllowBackupCreation): each
 * entry point loads the project only when it has limits or restrictions,
 * applies the change to what it loaded, and throws a 400 with Incus's
 * wording when the result breaks a rule.
 */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import type { Db, Queries } from '../db';
import type { ProjectRecord } from '../db/projects';
import { badRequest } from '../errors';
import { isTrue } from '../instance/config-keys';
import { DEFAULT_PROJECT, featureProject } from './features';
import { aggregateKeysOf, checkAggregateLimits, checkInstanceCounts, checkLimitsNotBelowUsage } from './limits';
import { type InstanceEntity, type ProfileEntity, type ProjectInfo, expandInstances, fetchProjectInfo } from './project-info';
import { backupCreationProblem, checkRestrictions, snapshotCreationProblem, storagePoolAllowed, volatileConfigProblem } from './restrictions';
import { ProjectRuleError } from './rule-error';

/** An instance as created or updated: its own (unexpanded) config, devices and profiles. */
export interface InstanceCandidate {
  name: string;
  type: string;
  profiles: string[];
  config: ConfigMap;
  devices: DevicesMap;
  /** Where a launch takes its image from: a server outside restricted.images.servers is refused. */
  imageServer?: string;
  /** The config the user asked for and the instance's current one, checked for volatile keys (not for copies and migrations, which drop them). */
  requested?: { config: ConfigMap; current: ConfigMap };
}

/** Refuses volatile keys the project does not let users set (Incus's checkRestrictionsOnVolatileConfig). */
function checkVolatile(info: { name: string; config: ConfigMap }, inst: InstanceCandidate): void {
  if (!inst.requested) return;
  const problem = volatileConfigProblem(info, inst, inst.requested.config, inst.requested.current);
  if (problem) throw badRequest(problem);
}

/** Runs `fn`, turning a broken rule into a 400 (with `prefix`, as Incus wraps it). */
function refuse(prefix: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProjectRuleError) throw badRequest(prefix ? `${prefix}: ${err.message}` : err.message);
    throw err;
  }
}

const toEntity = (i: InstanceCandidate): InstanceEntity => ({ name: i.name, type: i.type, profiles: i.profiles, config: i.config, devices: i.devices });

/** Pools named by disk devices and custom volumes, each checked against restricted.storage-pools.access. */
function checkPoolAccess(info: ProjectInfo): void {
  if (!info.config['restricted.storage-pools.access']) return;
  const pools = new Set<string>();
  for (const e of [...info.profiles, ...info.instances]) {
    for (const d of Object.values(e.devices)) if (d.type === 'disk' && d.pool) pools.add(d.pool);
  }
  for (const v of info.volumes) pools.add(v.pool);
  for (const pool of pools) {
    if (!storagePoolAllowed(info.config, pool)) throw new ProjectRuleError(`Storage pool "${pool}" is not accessible from this project`);
  }
}

/** The host[:port] of a server URL (Go's url.URL.Host); empty when it is not a URL. */
function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return '';
  }
}

/** Incus's checkRestrictionsAndAggregateLimits over what `info` would hold. */
function checkRestrictionsAndAggregateLimits(info: ProjectInfo): void {
  const keys = aggregateKeysOf(info.config);
  const restricted = isTrue(info.config.restricted);
  if (keys.length === 0 && !restricted) return;
  if (restricted) checkPoolAccess(info);
  const expanded = { ...info, instances: expandInstances(info.instances, info.profiles) };
  checkAggregateLimits(expanded, keys);
  if (restricted) checkRestrictions(info.name, info.config, expanded.instances, info.profiles);
}

/** Refuses a new instance in `project` that a count limit, aggregate limit or restriction forbids. */
export async function allowInstanceCreation(db: Queries, project: string, inst: InstanceCandidate): Promise<void> {
  const info = await fetchProjectInfo(db, project, true);
  if (!info) return;
  if (inst.imageServer && isTrue(info.config.restricted) && info.config['restricted.images.servers']) {
    const host = hostOf(inst.imageServer);
    const allowed = info.config['restricted.images.servers'].split(',').map((x) => x.trim());
    if (!allowed.includes(host)) throw badRequest(`Image server "${host}" isn't allowed in this project`);
  }
  checkVolatile(info, inst);
  refuse('', () => checkInstanceCounts(info, inst.type));
  info.instances.push(toEntity(inst));
  refuse('Failed checking if instance creation allowed', () => checkRestrictionsAndAggregateLimits(info));
}

/** Refuses an instance change (config, devices, profiles) that a limit or restriction forbids. */
export async function allowInstanceUpdate(db: Queries, project: string, inst: InstanceCandidate): Promise<void> {
  const info = await fetchProjectInfo(db, project, true);
  if (!info) return;
  checkVolatile(info, inst);
  info.instances = info.instances.map((i) => (i.name === inst.name ? { ...toEntity(inst), type: i.type } : i));
  refuse('Failed checking if instance update allowed', () => checkRestrictionsAndAggregateLimits(info));
}

/**
 * Refuses a profile created or changed in `profileProject` when, with it,
 * a project using that project's profiles would break a limit or a
 * restriction: the project itself and, for `default`, every project
 * without features.profiles.
 */
export async function allowProfileUpdate(db: Queries, profileProject: string, profile: ProfileEntity): Promise<void> {
  const users = profileProject === DEFAULT_PROJECT ? (await db.projects.list()).filter((p) => featureProject(p.name, p.config, 'profiles') === DEFAULT_PROJECT) : [];
  const names = users.length > 0 ? users.map((p) => p.name) : [profileProject];
  for (const name of names) {
    const info = await fetchProjectInfo(db, name, true);
    if (!info) continue;
    const others = info.profiles.filter((p) => p.name !== profile.name);
    info.profiles = [...others, profile];
    refuse('Failed checking if profile update allowed', () => checkRestrictionsAndAggregateLimits(info));
  }
}

/**
 * The check run on every project config change (pushed onto
 * ProjectManager.configChecks): new limits may not be below current usage
 * (Incus's AllowProjectUpdate), and a restricted project's new
 * restrictions must hold for what it already holds.
 */
export function projectUpdateCheck(db: Db): (p: ProjectRecord, next: ConfigMap) => Promise<void> {
  return async (p, next) => {
    const changed = [...new Set([...Object.keys(p.config), ...Object.keys(next)])].filter((k) => p.config[k] !== next[k]);
    // Like Incus, only restricted.* keys trigger the check (turning
    // `restricted` itself on does not), whether or not the project is restricted.
    const restrictionKey = changed.find((k) => k.startsWith('restricted.'));
    const limitChanged = changed.some((k) => k.startsWith('limits.'));
    if (!limitChanged && !restrictionKey) return;
    const info = await fetchProjectInfo(db, p.name, false);
    if (!info) return;
    const expanded = { ...info, instances: expandInstances(info.instances, info.profiles) };
    if (restrictionKey) {
      refuse(`Conflict detected when changing "${restrictionKey}" in project "${p.name}"`, () =>
        checkRestrictions(p.name, next, expanded.instances, info.profiles),
      );
    }
    if (limitChanged) refuse('', () => checkLimitsNotBelowUsage(expanded, next, changed));
  };
}

/** Refuses a new custom volume that would take the project past limits.disk (or its pool's limit), or that a restricted project may not use. */
export async function allowVolumeCreation(db: Queries, project: string, pool: string, vol: { name: string; config: ConfigMap }): Promise<void> {
  const info = await fetchProjectInfo(db, project, true);
  if (!info) return;
  info.volumes.push({ name: vol.name, pool, config: vol.config });
  refuse('Failed checking if volume creation allowed', () => checkRestrictionsAndAggregateLimits(info));
}

/** Refuses a custom volume's new config (its size) when it takes the project past limits.disk. */
export async function allowVolumeUpdate(db: Queries, project: string, pool: string, vol: { name: string; config: ConfigMap }): Promise<void> {
  const info = await fetchProjectInfo(db, project, true);
  if (!info || !info.config['limits.disk']) return;
  info.volumes = info.volumes.map((v) => (v.name === vol.name && v.pool === pool ? { ...v, config: vol.config } : v));
  refuse('Failed checking if volume update allowed', () => checkRestrictionsAndAggregateLimits(info));
}

/** Refuses a snapshot in a project with restricted.snapshots=block (its default when restricted). */
export async function allowSnapshotCreation(db: Queries, project: string): Promise<void> {
  const p = await db.projects.get(project);
  const why = p ? snapshotCreationProblem(project, p.config) : null;
  if (why) throw badRequest(why);
}

/** Refuses a backup in a project with restricted.backups=block (its default when restricted). */
export async function allowBackupCreation(db: Queries, project: string): Promise<void> {
  const p = await db.projects.get(project);
  const why = p ? backupCreationProblem(project, p.config) : null;
  if (why) throw badRequest(why);
}
