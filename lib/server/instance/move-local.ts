/**
 * A server-side move of a stopped instance to another storage pool and/or
 * project (`POST /1.0/instances/NAME` with `migration: true` and `pool` or
 * `project`, no cluster target), as Incus's migrateInstance does it on one
 * server: a rename first when asked, then a local copy (snapshots along
 * unless instance-only) that keeps the instance's identity (volatile keys:
 * UUID, MAC addresses, id map), with the request's config, device and
 * profile overrides; then the source goes, and a copy made in the same
 * project under a temporary name takes the instance's name.
 */
import { createHash } from 'node:crypto';
import type { ConfigMap, DevicesMap, InstancePost } from '../../api/instance';
import type { InstanceRecord } from '../db/instances';
import { badRequest } from '../errors';
import { missingNicVolatile } from './devices/nic-common';
import { rootDisk } from './expand';
import type { InstanceManager } from './manager';
import { planCopy, runCopy, type CopyPlan } from './copy';

/** The checks Incus makes on a migration request before anything runs; throws its 400. */
export function checkMigrationRequest(rec: InstanceRecord, running: boolean, body: InstancePost, clustered: boolean, target: string): void {
  if (body.refresh && body.live) throw badRequest("Refresh migration can't be used with a stateful migration");
  if (!running || !(body.pool || body.project || target)) return;
  if (!body.live && body.refresh && (!target || body.pool || body.project || body.name || body.instance_only)) {
    throw badRequest('Instance must be stopped to be moved statelessly');
  }
  if (body.pool) {
    if (rec.type !== 'virtual-machine') throw badRequest("Live storage pool changes aren't supported for containers");
    if (!clustered) throw badRequest("Live storage pool changes aren't supported on standalone systems");
    if (!target) throw badRequest('Live storage pool changes require the VM be moved to another cluster member');
  }
  if (body.project) throw badRequest('Instance must be stopped to be moved across projects');
  if (body.name) throw badRequest('Instance must be stopped to change their names');
}

/** Incus's temporary name for a copy in the same project: `move-of-N`, stable for the instance's UUID. */
function temporaryName(rec: InstanceRecord): string {
  const digest = createHash('sha256').update(rec.config['volatile.uuid'] ?? rec.name).digest('hex');
  return `move-of-${BigInt(`0x${digest.slice(0, 16)}`)}`;
}

/**
 * The devices the moved instance keeps locally: its own with the request's
 * overrides, the root disk pointed at `pool`, and, for a project change
 * whose profiles there give no matching root disk, the current root disk.
 */
async function movedDevices(m: InstanceManager, rec: InstanceRecord, body: InstancePost, project: string, profiles: string[]): Promise<DevicesMap> {
  const devices: DevicesMap = { ...rec.devices, ...(body.devices ?? {}) };
  const current = rootDisk((await m.expand(rec)).expanded_devices);
  if (body.pool) {
    if (!current) throw badRequest('Failed getting root disk: No root device could be found');
    devices[current.name] = { ...current.config, pool: body.pool };
  }
  if (body.project && current && !rootDisk(devices)) {
    const fromProfiles = rootDisk((await m.expand({ project, profiles, config: {}, devices: {} })).expanded_devices);
    const same = fromProfiles && (['pool', 'size', 'size.state'] as const).every((k) => (fromProfiles.config[k] ?? '') === (current.config[k] ?? ''));
    if (!same) devices[current.name] = current.config;
  }
  return devices;
}

/** Volatile keys of the source for the moved record (its identity), with MAC addresses for NICs that have none yet. */
function keptVolatile(m: InstanceManager, source: InstanceRecord): (plan: CopyPlan) => Promise<ConfigMap> {
  return async (plan) => {
    const config: ConfigMap = { ...plan.record.config };
    for (const [k, v] of Object.entries(source.config)) if (k.startsWith('volatile.')) config[k] = v;
    const devices = (await m.expand({ ...plan.record, config })).expanded_devices;
    return { ...config, ...missingNicVolatile({ project: plan.project, name: plan.name, config }, devices) };
  };
}

/**
 * Moves stopped `rec` as `body` asks (see the file comment). Runs inside the
 * operation, holding the instance's lock; `deleteBackups` removes the
 * source's backups with it.
 */
export async function moveLocally(m: InstanceManager, rec: InstanceRecord, body: InstancePost, deleteBackups: (rec: InstanceRecord) => Promise<void>): Promise<void> {
  let source = rec;
  if (body.name && body.name !== rec.name) {
    await m.rename(rec, body.name);
    source = await m.get(rec.project, body.name);
  }
  const project = body.project || source.project;
  const profiles = body.profiles ?? source.profiles;
  const devices = await movedDevices(m, source, body, project, profiles);
  const name = project === source.project ? temporaryName(source) : source.name;
  const plan = await planCopy(m, project, {
    name,
    config: { ...source.config, ...(body.config ?? {}) },
    devices,
    profiles,
    description: source.description,
    ephemeral: source.ephemeral,
    source: { type: 'copy', source: source.name, project: source.project, instance_only: body.instance_only === true },
  });
  await m.locks.with(m.lockKey(plan), () => runCopy(m, plan, keptVolatile(m, source)));
  await deleteBackups(source);
  await m.delete(source, { force: true });
  if (name !== source.name) await m.rename(await m.get(project, name), source.name);
}
