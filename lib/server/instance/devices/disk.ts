/**
 * `disk` devices: the root disk (pool, path /), which the storage layer
 * handles, and host path binds: `source` (a host directory or file) at
 * `path`, optionally `readonly`, `recursive` (rbind) and with
 * `propagation`. `required=false` skips a missing source instead of failing
 * the start. `shift=true` (default false, as in Incus) idmaps the mount to
 * the container's user namespace so that an unprivileged container sees
 * host uid 0 as root and files it creates land as uid 0 on the host; it
 * needs idmapped mounts on the source's filesystem (probed, then cached).
 * Hot-plug and unplug go through forkmount (a detached mount copy moved
 * into the running container's mount namespace). With `pool`, `source`
 * names a custom storage volume, bound like a host directory; a custom
 * block volume (VMs only, no `path`) is a drive instead. A host block
 * device as `source` has its filesystem mounted on the host first, then
 * bound like a directory.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VOLUME_DIRS } from '../../storage/interface';
import { probeIdmappedMounts } from '../../../native/idmap';
import { injectMount, removeInjectedMount } from '../../../native/devices';
import { isBool, oneOf } from '../config/validators';
import { isTrue } from '../config-keys';
import type { DeviceDriver, DeviceStartContext, DeviceValidateContext } from './interface';
import { checkDeviceOptions, deviceError, isOctalMode, isUnixId } from './options';
import { TMPFS_SOURCE, mountStaged, rawMountOptions, tmpfsOptions } from './disk-sources';
import { parseSize } from '../config/units';
import { type OpenedSubPath, type SubPathCreate, openSubPath, splitVolumeSource } from './volume-subpath';
import { mapId } from '../idmap-remap';
import type { DeviceRunConfig, DriveRequest, MountRequest } from './run-config';
import { stageVolume, unstageVolume } from './disk-staging';
import { childPath, pathComponentProblem } from '../../names';
import { volumeDiskName } from '../../storage/volume-names';

const PROPAGATIONS = ['private', 'shared', 'slave', 'unbindable', 'rshared', 'rslave', 'runbindable', 'rprivate'];

const RULES = {
  // Incus takes a relative path as relative to the instance's root; ".." never climbs out of it.
  path: (v: string) => (v.split('/').includes('..') ? 'Must not contain ".." components' : null),
  pool: () => null,
  source: () => null,
  readonly: isBool,
  required: isBool,
  shift: isBool,
  recursive: isBool,
  propagation: oneOf(...PROPAGATIONS),
  size: () => null,
  'size.state': () => null,
  'boot.priority': () => null,
  // Extra options for the mount of a block device's filesystem.
  'raw.mount.options': () => null,
  // Owner and mode of the directories a missing volume sub-path is made of.
  'initial.uid': isUnixId,
  'initial.gid': isUnixId,
  'initial.mode': isOctalMode,
};

/** The mount point inside the instance: Incus reads `path` relative to the root, with or without a leading "/". */
function targetPath(config: Record<string, string>): string {
  return '/' + config.path.replace(/^\/+/, '');
}

/** True for the instance's root disk, which the storage layer mounts. */
function isRoot(config: Record<string, string>): boolean {
  return config.path === '/' && !config.source;
}

/** Whether idmapped mounts work where `source` lives, per filesystem. */
const idmapCache = new Map<bigint, Promise<boolean>>();
async function idmapWorks(dir: string): Promise<boolean> {
  const dev = statSync(dir, { bigint: true }).dev;
  let p = idmapCache.get(dev);
  if (!p) {
    p = probeIdmappedMounts(dir).catch(() => false);
    idmapCache.set(dev, p);
  }
  return p;
}

/**
 * What a bind of this device needs, or null when the source is missing and
 * not required. `probeDir`: a directory on the source's filesystem (the
 * volume, when the source is an opened descriptor).
 */
async function bindPlan(ctx: DeviceStartContext, probeDir?: string): Promise<BindPlan | null> {
  const { config } = ctx;
  let isDir: boolean;
  let block: boolean;
  try {
    const st = statSync(config.source);
    // A host block device: its filesystem is mounted, then bound as a directory.
    block = st.isBlockDevice() && !config.pool;
    isDir = st.isDirectory() || block;
  } catch {
    if (!isTrue(config.required ?? 'true')) return null;
    throw new Error(`Missing source path "${config.source}"`);
  }
  const idmap = isTrue(config.shift) && ctx.inst.idmap !== null;
  if (idmap && !block && !(await idmapWorks(probeDir ?? (isDir ? config.source : dirname(config.source))))) {
    throw new Error('Shifting requires idmapped mounts, which the filesystem of the source does not support');
  }
  return { isDir, idmap, block };
}

/** The host path to bind for a block device: its filesystem, mounted at the staging path. */
function mountBlock(ctx: DeviceStartContext): Promise<string> {
  const options = rawMountOptions(ctx.config);
  if (isTrue(ctx.config.readonly)) options.push('ro');
  return mountStaged(ctx.config.source, ctx.devicesDir, ctx.name, options);
}

/** A `tmpfs:` disk hot-plugged: a tmpfs mounted on the host, its root owned by the container's view of initial.uid/gid. */
function mountTmpfs(ctx: DeviceStartContext): Promise<string> {
  const config = { ...ctx.config };
  const map = ctx.inst.idmap;
  if (map) {
    const id = (k: string, kind: 'uid' | 'gid'): string => {
      const host = mapId(map, Number(config[k] || 0), kind, 'in');
      return String(host === -1 ? Number(config[k] || 0) : host);
    };
    [config['initial.uid'], config['initial.gid']] = [id('initial.uid', 'uid'), id('initial.gid', 'gid')];
  }
  return mountStaged('tmpfs', ctx.devicesDir, ctx.name, tmpfsOptions(config), 'tmpfs');
}

interface BindPlan {
  isDir: boolean;
  idmap: boolean;
  block: boolean;
}

/** What a custom volume device binds: the volume, or its opened sub-path, and the volume's folder. */
interface VolumeSource {
  ctx: DeviceStartContext;
  root: string;
  opened: OpenedSubPath | null;
}

/**
 * A custom volume (`pool` and `source`) is a bind of the volume's directory,
 * $INCUS_DIR/storage-pools/<pool>/custom/<project>_<name> for every driver,
 * or of a sub-path of it (`<volume>/<path>`, made when missing), and
 * required. Its files are owned by the container's map on disk
 * (instance/volume-idmap.ts shifts them before the start); a
 * security.shifted volume keeps host ids and is bound through an idmapped
 * mount instead, as Incus does.
 */
async function volumeSource(ctx: DeviceStartContext): Promise<VolumeSource | null> {
  const { config } = ctx;
  if (!config.pool) return null;
  const { volume, subPath } = splitVolumeSource(config.source);
  const disk = volumeDiskName('custom', ctx.inst.volumeProject ?? ctx.inst.project, volume);
  const root = childPath(join(ctx.varDir, 'storage-pools'), config.pool, VOLUME_DIRS.custom, disk);
  if (!existsSync(root)) throw new Error(`Storage volume "${volume}" not found in pool "${config.pool}"`);
  const shifted = ctx.inst.shiftedVolumes?.includes(ctx.name) ?? false;
  const opened = subPath ? await openSubPath(root, subPath, subPathCreate(ctx, shifted)) : null;
  const source = opened?.path ?? root;
  return { ctx: { ...ctx, config: { ...config, source, shift: String(shifted), required: 'true' } }, root, opened };
}

/** Owner and mode of the directories a missing sub-path is made of: initial.* as seen inside the container. */
function subPathCreate(ctx: DeviceStartContext, shifted: boolean): SubPathCreate {
  const num = (k: string, dflt: number, base = 10): number => (ctx.config[k] ? parseInt(ctx.config[k], base) : dflt);
  let [uid, gid] = [num('initial.uid', 0), num('initial.gid', 0)];
  const map = shifted ? null : ctx.inst.idmap;
  if (map) {
    const [hu, hg] = [mapId(map, uid, 'uid', 'in'), mapId(map, gid, 'gid', 'in')];
    [uid, gid] = [hu === -1 ? uid : hu, hg === -1 ? gid : hg];
  }
  return { uid, gid, mode: num('initial.mode', 0o711, 8) };
}

/** Incus's rules for a custom volume's content type: block volumes only on VMs, as a disk (no path), on one instance unless security.shared; filesystem ones need a path. */
function checkVolumeUse(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void {
  const { volume, subPath } = splitVolumeSource(config.source);
  const vol = ctx.customVolume?.(config.pool, volume);
  if (vol?.contentType === 'block') {
    if (ctx.instanceType === 'container') throw deviceError(name, 'Custom block volumes cannot be used on containers');
    if (config.path) throw deviceError(name, 'Custom block volumes cannot have a path defined');
    if (subPath) throw deviceError(name, 'Custom block volume snapshots cannot be used directly');
    // Two guests writing one disk corrupt it: only a volume marked shared may be attached to several instances.
    if (!isTrue(vol.config['security.shared']) && (ctx.otherVolumeUsers?.(config.pool, volume).length ?? 0) > 0) {
      throw deviceError(name, 'Cannot add un-shared custom storage block volume to more than one instance');
    }
  } else if (!config.path && ctx.customVolume) {
    throw deviceError(name, vol ? 'Custom filesystem volumes require a path to be defined' : 'Missing "path"');
  }
}

/** A custom block volume (the instance runtime names its raw disk): a drive for the VM. */
function blockDrive(ctx: DeviceStartContext): DeviceRunConfig | null {
  const source = ctx.inst.blockVolumes?.[ctx.name];
  if (!source || !ctx.config.pool) return null;
  if (ctx.inst.type !== 'virtual-machine') throw new Error('Custom block volumes cannot be used on containers');
  const drive: DriveRequest = { device: ctx.name, source };
  if (isTrue(ctx.config.readonly)) drive.readonly = true;
  return { drives: [drive] };
}

export const diskDevice: DeviceDriver = {
  type: 'disk',
  validate(name, config, ctx) {
    checkDeviceOptions(name, config, RULES);
    if (!config.path && !(config.pool && config.source)) throw deviceError(name, 'Missing "path"');
    if (isRoot(config)) {
      if (!config.pool) throw deviceError(name, 'The root disk needs a "pool"');
      if (!ctx.poolExists(config.pool)) throw deviceError(name, `Storage pool "${config.pool}" doesn't exist`);
      return;
    }
    if (!config.source) throw deviceError(name, 'Missing "source"');
    if (config.path === '/') throw deviceError(name, 'Invalid value for "path": only the root disk (a "pool" without "source") may be mounted at /');
    if (config.source === TMPFS_SOURCE) {
      if (config.size && parseSize(config.size) === null) throw deviceError(name, 'Invalid value for "size"');
      return;
    }
    if (config.size || config['size.state']) throw deviceError(name, 'Only root or tmpfs disks can have a size quota');
    if (config.pool) {
      if (!ctx.poolExists(config.pool)) throw deviceError(name, `Storage pool "${config.pool}" doesn't exist`);
      // ".." would bind the whole pool (every instance's rootfs) into the container; a sub-path is opened beneath the volume.
      if (pathComponentProblem(splitVolumeSource(config.source).volume) !== null) throw deviceError(name, 'Invalid value for "source": Must be a custom volume name');
      checkVolumeUse(name, config, ctx);
      return;
    }
    if (!config.source.startsWith('/')) throw deviceError(name, 'Invalid value for "source": Must be an absolute host path');
  },

  async start(ctx) {
    if (isRoot(ctx.config)) return null;
    const drive = blockDrive(ctx);
    if (drive) return drive;
    // Unchecked where the volume was not known (a profile, a copy): a filesystem volume needs its mount point.
    if (!ctx.config.path) throw new Error('Custom filesystem volumes require a path to be defined');
    if (ctx.config.source === TMPFS_SOURCE) {
      if (ctx.inst.type !== 'container') throw new Error('tmpfs disks are only supported on containers');
      return { mounts: [{ source: 'tmpfs', target: targetPath(ctx.config), kind: 'dir', fstype: 'tmpfs', options: tmpfsOptions(ctx.config), device: ctx.name }] };
    }
    const vol = await volumeSource(ctx);
    try {
      if (vol) ctx = vol.ctx;
      const plan = await bindPlan(ctx, vol?.root);
      if (!plan) return null;
      const { config } = ctx;
      // The container's root makes the mount and cannot reach the root-only pool folders; a sub-path is bound by its descriptor.
      let source = config.source;
      if (vol) source = await stageVolume(config.source, ctx.devicesDir, ctx.name, plan.isDir);
      else if (plan.block) source = await mountBlock(ctx);
      const mount: MountRequest = { source, target: targetPath(config), kind: plan.isDir ? 'dir' : 'file', device: ctx.name };
      if (isTrue(config.recursive)) mount.recursive = true;
      if (isTrue(config.readonly)) mount.readonly = true;
      if (config.propagation) mount.propagation = config.propagation;
      if (plan.idmap) mount.idmap = true;
      return { mounts: [mount] };
    } finally {
      await vol?.opened?.close();
    }
  },

  /** liblxc has cloned the staged volume or block mount by now: the host side goes. */
  async postStart(ctx) {
    if (!isRoot(ctx.config)) await unstageVolume(ctx.devicesDir, ctx.name);
  },

  async stop(ctx) {
    if (!isRoot(ctx.config)) await unstageVolume(ctx.devicesDir, ctx.name);
  },

  async hotplug(ctx) {
    if (isRoot(ctx.config)) return;
    // Block volumes are VM drives: refused here.
    blockDrive(ctx);
    if (!ctx.config.path) throw new Error('Custom filesystem volumes require a path to be defined');
    if (ctx.config.source === TMPFS_SOURCE) {
      try {
        await injectMount(ctx.pid!, { source: await mountTmpfs(ctx), target: targetPath(ctx.config), kind: 'dir', recursive: false, readonly: false, idmap: false });
      } finally {
        await unstageVolume(ctx.devicesDir, ctx.name);
      }
      return;
    }
    const vol = await volumeSource(ctx);
    try {
      if (vol) ctx = vol.ctx;
      const plan = await bindPlan(ctx, vol?.root);
      if (!plan) return;
      const { config } = ctx;
      await injectMount(ctx.pid!, {
        source: plan.block ? await mountBlock(ctx) : config.source,
        target: targetPath(config),
        kind: plan.isDir ? 'dir' : 'file',
        recursive: isTrue(config.recursive),
        readonly: isTrue(config.readonly),
        idmap: plan.idmap,
        propagation: config.propagation || undefined,
      });
    } finally {
      await vol?.opened?.close();
      // A block device's host mount: the container holds its own copy now.
      await unstageVolume(ctx.devicesDir, ctx.name);
    }
  },

  async hotunplug(ctx) {
    if (isRoot(ctx.config)) return;
    // The mount point stays: it may be a directory or file of the image.
    await removeInjectedMount(ctx.pid!, targetPath(ctx.config), 'keep');
  },
};
