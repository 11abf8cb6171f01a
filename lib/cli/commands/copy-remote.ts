/**
 * `incus copy|move SRC other:[NAME]` between two servers, as Incus's CLI
 * does it: the new instance is described from the source's (volatile keys
 * dropped unless moving or refreshing), overrides applied, then migrated
 * in pull, push or relay mode with the target's progress on one line. A
 * refresh updates the target's config afterwards; a move deletes the
 * source only once the target has the instance, and starts the copy when
 * the source was running.
 */
import type { DevicesMap, Instance, InstancePut, InstancesPost } from '../../api/instance';
import { StatusCode } from '../../api/response';
import type { IncusClient } from '../../client/client';
import type { MigrationMode } from '../../client/migration';
import type { CliContext } from '../context';
import { parseDeviceOverrides, parseKeyValues } from '../kv';
import { ProgressLine, waitShowingProgress, waitTransferShowingProgress } from '../progress';
import { connectIncus } from '../remotes/connect';

export interface RemoteCopyFlags {
  config?: string[];
  device?: string[];
  profile?: string[];
  /** false with --no-profiles. */
  profiles?: boolean;
  instanceOnly?: boolean;
  storage?: string;
  ephemeral?: boolean;
  mode?: string;
  stateless?: boolean;
  refresh?: boolean;
  refreshExcludeOlder?: boolean;
  targetProject?: string;
  allowInconsistent?: boolean;
}

export interface Endpoint {
  remote: string;
  name: string;
}

/** Incus's InstanceIncludeWhenCopying for a copy to another server. */
const keptWhenCopying = (k: string): boolean => k === 'volatile.apply_nvram' || k === 'volatile.base_image' || !k.startsWith('volatile.');

function rootDiskName(devices: DevicesMap): string | undefined {
  return Object.entries(devices).find(([, d]) => d.type === 'disk' && d.path === '/' && !d.source)?.[0];
}

/** The instance to create on the target, described from the source's with the overrides applied. */
export function describe(entry: Instance, name: string, f: RemoteCopyFlags, keepVolatile: boolean): InstancesPost {
  let config = { ...entry.config, ...parseKeyValues(f.config ?? []) };
  if (!keepVolatile) config = Object.fromEntries(Object.entries(config).filter(([k]) => keptWhenCopying(k)));
  delete config['volatile.last_state.power'];
  const devices: DevicesMap = Object.fromEntries(Object.entries(entry.devices ?? {}).map(([k, d]) => [k, { ...d }]));
  for (const [k, over] of Object.entries(parseDeviceOverrides(f.device ?? []))) {
    if (!devices[k] || over.type === 'none') devices[k] = over.type === 'none' ? { type: 'none' } : { ...over };
    else Object.assign(devices[k], over);
  }
  if (f.storage) {
    const root = rootDiskName(devices);
    // The root disk may come from a profile: a local one on the new pool overrides it.
    const fromProfile = Object.entries(entry.expanded_devices ?? {}).find(([, d]) => d.type === 'disk' && d.path === '/');
    if (root) devices[root] = { ...devices[root]!, pool: f.storage };
    else devices[fromProfile?.[0] ?? 'root'] = { ...(fromProfile?.[1] ?? { type: 'disk', path: '/' }), pool: f.storage };
  }
  return {
    name,
    type: entry.type,
    architecture: entry.architecture,
    config,
    devices,
    profiles: f.profile && f.profile.length > 0 ? f.profile : f.profiles === false ? [] : entry.profiles,
    ephemeral: f.ephemeral === true ? true : f.ephemeral === false ? false : entry.ephemeral,
    description: entry.description,
    source: { type: 'migration', 'base-image': entry.config['volatile.base_image'] ?? '' },
  };
}

function modeOf(raw: string | undefined): MigrationMode {
  const mode = raw || 'pull';
  if (mode !== 'pull' && mode !== 'push' && mode !== 'relay') throw new Error(`Invalid transfer mode "${mode}": use pull, push or relay`);
  return mode;
}

/**
 * Copies (or, with `move`, moves) the instance `src` names to `dst`'s
 * remote; returns the target instance's name.
 */
export async function copyBetweenServers(ctx: CliContext, src: Endpoint, dst: Endpoint, f: RemoteCopyFlags, move: boolean): Promise<string> {
  const [instanceName, snap] = src.name.split('/', 2) as [string, string | undefined];
  if (snap !== undefined) {
    if (move) throw new Error('A snapshot cannot be moved to another server: copy it, then delete it');
    if (f.refresh) throw new Error('--refresh can only be used with instances');
    if (!dst.name) throw new Error('You must specify a destination instance name when using snapshots');
  }
  if (f.refresh && f.profiles === false) throw new Error('--no-profiles cannot be used with --refresh');
  const mode = modeOf(f.mode);
  const source = connectIncus(ctx, src.remote);
  let target: IncusClient = connectIncus(ctx, dst.remote);
  if (f.targetProject) target = target.useProject(f.targetProject);
  const name = dst.name || instanceName;
  let entry = await source.getInstance(instanceName);
  if (snap !== undefined) {
    // A snapshot travels with its own config, devices and profiles, as a stopped instance.
    const { getSnapshot } = require('../../client/snapshots') as typeof import('../../client/snapshots');
    const sn = await getSnapshot(source, instanceName, snap);
    entry = { ...entry, config: sn.config, devices: sn.devices, profiles: sn.profiles, ephemeral: sn.ephemeral, status_code: StatusCode.Stopped };
  }
  const running = entry.status_code === StatusCode.Running;
  const stateful = move ? f.stateless !== true : f.stateless !== true && f.refresh !== true;
  const keepVolatile = move || f.refresh === true;
  const req = describe(entry, name, f, keepVolatile);
  const { migrateInstance } = require('../../client/migration') as typeof import('../../client/migration');
  const rop = await migrateInstance(source, target, instanceName, req, {
    mode,
    live: stateful && running,
    instanceOnly: f.instanceOnly === true,
    refresh: f.refresh === true,
    refreshExcludeOlder: f.refreshExcludeOlder === true,
    allowInconsistent: f.allowInconsistent === true,
    ...(snap !== undefined ? { snapshot: snap } : {}),
  });
  const line = new ProgressLine(ctx.io.out, 'Transferring instance: %s', ctx.globals.quiet);
  await waitTransferShowingProgress(rop, line);
  if (f.refresh) await refreshConfig(ctx, target, name, req);
  if (move) {
    await deleteSource(source, instanceName, entry);
    // A stateless move of a running instance starts it again on the target.
    if (running) await (await target.updateInstanceState(name, { action: 'start', timeout: -1, force: false, stateful: false })).wait();
  }
  return name;
}

/** After a refresh: the target takes the source's config, keeping its own idmap and root pool. */
export async function refreshConfig(ctx: CliContext, target: IncusClient, name: string, req: InstancesPost): Promise<void> {
  let cur;
  try {
    cur = await target.getInstanceWithEtag(name);
  } catch (err) {
    throw new Error(`Failed to refresh target instance '${name}': ${(err as Error).message}`);
  }
  const config = { ...req.config };
  const next = cur.value.config['volatile.idmap.next'];
  if (next !== undefined) config['volatile.idmap.next'] = next;
  const devices = { ...req.devices };
  const srcRoot = rootDiskName(devices);
  if (srcRoot && srcRoot === rootDiskName(cur.value.devices) && cur.value.devices[srcRoot]?.pool) devices[srcRoot] = { ...devices[srcRoot]!, pool: cur.value.devices[srcRoot]!.pool! };
  const put: InstancePut = {
    architecture: cur.value.architecture,
    config,
    devices,
    ephemeral: req.ephemeral ?? cur.value.ephemeral,
    profiles: req.profiles ?? cur.value.profiles,
    stateful: cur.value.stateful,
    description: req.description ?? cur.value.description,
  };
  const line = new ProgressLine(ctx.io.out, 'Refreshing instance: %s', ctx.globals.quiet);
  try {
    await waitShowingProgress(await target.updateInstance(name, put, { etag: cur.etag || undefined }), line);
  } finally {
    line.done();
  }
}

/** The move's last step: the source goes (stopped first when running). */
async function deleteSource(source: IncusClient, name: string, entry: Instance): Promise<void> {
  try {
    if (entry.status_code === StatusCode.Running) await (await source.updateInstanceState(name, { action: 'stop', timeout: -1, force: true })).wait();
    if (entry.ephemeral && entry.status_code === StatusCode.Running) return;
    await (await source.deleteInstance(name)).wait();
  } catch (err) {
    throw new Error(`Failed to delete original instance after copying it: ${(err as Error).message}`);
  }
}
