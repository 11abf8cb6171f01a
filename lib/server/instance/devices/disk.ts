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
 * block volume (VMs only, no `path`) is a drive instead.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VOLUME_DIRS } from '../../storage/interface';
import { probeIdmappedMounts } from '../../../native/idmap';
import { injectMount, removeInjectedMount } from '../../../native/devices';
import { isBool, oneOf } from '../config/validators';
import { isTrue } from '../config-keys';
import type { DeviceDriver, DeviceStartContext, DeviceValidateContext } from './interface';
import { checkDeviceOptions, deviceError } from './options';
import type { DeviceRunConfig, DriveRequest, MountRequest } from './run-config';
import { stageVolume, unstageVolume } from './disk-staging';
import { childPath, pathComponentProblem } from '../../names';
import { volumeDiskName } from '../../storage/volume-names';

const PROPAGATIONS = ['private', 'shared', 'slave', 'unbindable', 'rshared', 'rslave', 'runbindable', 'rprivate'];

const RULES = {
  // Incus takes any path: a relative one is relative to the instance's root.
  path: () => null,
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
async function idmapWorks(source: string, isDir: boolean): Promise<boolean> {
  const dev = statSync(source, { bigint: true }).dev;
  let p = idmapCache.get(dev);
  if (!p) {
    p = probeIdmappedMounts(isDir ? source : dirname(source)).catch(() => false);
    idmapCache.set(dev, p);
  }
  return p;
}

/** What a bind of this device needs, or null when the source is missing and not required. */
async function bindPlan(ctx: DeviceStartContext): Promise<{ isDir: boolean; idmap: boolean } | null> {
  const { config } = ctx;
  let isDir: boolean;
  try {
    isDir = statSync(config.source).isDirectory();
  } catch {
    if (!isTrue(config.required ?? 'true')) return null;
    throw new Error(`Missing source path "${config.source}"`);
  }
  const idmap = isTrue(config.shift) && ctx.inst.idmap !== null;
  if (idmap && !(await idmapWorks(config.source, isDir))) {
    throw new Error('Shifting requires idmapped mounts, which the filesystem of the source does not support');
  }
  return { isDir, idmap };
}

/**
 * A custom volume (`pool` and `source`) is a bind of the volume's directory,
 * $INCUS_DIR/storage-pools/<pool>/custom/<project>_<name> for every driver,
 * and required. Its files are owned by the container's map on disk
 * (instance/volume-idmap.ts shifts them before the start); a
 * security.shifted volume keeps host ids and is bound through an idmapped
 * mount instead, as Incus does.
 */
function volumeBind(ctx: DeviceStartContext): DeviceStartContext {
  const { config } = ctx;
  if (!config.pool) return ctx;
  const volume = volumeDiskName('custom', ctx.inst.volumeProject ?? ctx.inst.project, config.source);
  const source = childPath(join(ctx.varDir, 'storage-pools'), config.pool, VOLUME_DIRS.custom, volume);
  if (!existsSync(source)) throw new Error(`Storage volume "${config.source}" not found in pool "${config.pool}"`);
  const shift = ctx.inst.shiftedVolumes?.includes(ctx.name) ? 'true' : 'false';
  return { ...ctx, config: { ...config, source, shift, required: 'true' } };
}

/** Incus's rules for a custom volume's content type: block volumes only on VMs, as a disk (no path), on one instance unless security.shared; filesystem ones need a path. */
function checkVolumeUse(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void {
  const vol = ctx.customVolume?.(config.pool, config.source);
  if (vol?.contentType === 'block') {
    if (ctx.instanceType === 'container') throw deviceError(name, 'Custom block volumes cannot be used on containers');
    if (config.path) throw deviceError(name, 'Custom block volumes cannot have a path defined');
    // Two guests writing one disk corrupt it: only a volume marked shared may be attached to several instances.
    if (!isTrue(vol.config['security.shared']) && (ctx.otherVolumeUsers?.(config.pool, config.source).length ?? 0) > 0) {
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
    if (config.size || config['size.state']) throw deviceError(name, 'Only the root disk may have a size quota');
    if (config.pool) {
      if (!ctx.poolExists(config.pool)) throw deviceError(name, `Storage pool "${config.pool}" doesn't exist`);
      // ".." would bind the whole pool (every instance's rootfs) into the container.
      if (pathComponentProblem(config.source) !== null) throw deviceError(name, 'Invalid value for "source": Must be a custom volume name');
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
    ctx = volumeBind(ctx);
    const plan = await bindPlan(ctx);
    if (!plan) return null;
    const { config } = ctx;
    // The container's root makes the mount and cannot reach the root-only pool folders.
    const source = config.pool && ctx.inst.idmap !== null ? await stageVolume(config.source, ctx.devicesDir, ctx.name) : config.source;
    const mount: MountRequest = { source, target: targetPath(config), kind: plan.isDir ? 'dir' : 'file', device: ctx.name };
    if (isTrue(config.recursive)) mount.recursive = true;
    if (isTrue(config.readonly)) mount.readonly = true;
    if (config.propagation) mount.propagation = config.propagation;
    if (plan.idmap) mount.idmap = true;
    return { mounts: [mount] };
  },

  /** liblxc has cloned the staged volume mount by now: the host side goes. */
  async postStart(ctx) {
    if (ctx.config.pool && !isRoot(ctx.config)) await unstageVolume(ctx.devicesDir, ctx.name);
  },

  async stop(ctx) {
    if (ctx.config.pool && !isRoot(ctx.config)) await unstageVolume(ctx.devicesDir, ctx.name);
  },

  async hotplug(ctx) {
    if (isRoot(ctx.config)) return;
    // Block volumes are VM drives: refused here.
    blockDrive(ctx);
    if (!ctx.config.path) throw new Error('Custom filesystem volumes require a path to be defined');
    ctx = volumeBind(ctx);
    const plan = await bindPlan(ctx);
    if (!plan) return;
    const { config } = ctx;
    await injectMount(ctx.pid!, {
      source: config.source,
      target: targetPath(config),
      kind: plan.isDir ? 'dir' : 'file',
      recursive: isTrue(config.recursive),
      readonly: isTrue(config.readonly),
      idmap: plan.idmap,
      propagation: config.propagation || undefined,
    });
  },

  async hotunplug(ctx) {
    if (isRoot(ctx.config)) return;
    // The mount point stays: it may be a directory or file of the image.
    await removeInjectedMount(ctx.pid!, targetPath(ctx.config), 'keep');
  },
};
