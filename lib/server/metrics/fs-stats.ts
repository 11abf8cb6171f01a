/**
 * Filesystem figures of an instance's disk devices, as Incus's getFSStats
 * (driver_lxc.go): statfs(2) of the root volume when it has a filesystem of
 * its own (one on its pool's filesystem is skipped: a dir pool without
 * quota), and of a host path a disk device passes in. Custom pool
 * volumes are not measured yet. The root volume's figures come read
 * already (the driver's batch); the rest are read here, on libuv's pool.
 */
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DevicesMap } from '../../api/instance';
import { childPath } from '../names';

export interface FilesystemStats {
  device: string;
  mountpoint: string;
  fstype: string;
  sizeBytes: number;
  availBytes: number;
  freeBytes: number;
}

/** Disks that are not filesystems (Incus's IsSpecialDisk). */
const SPECIAL_SOURCES = new Set(['cloud-init:config', 'agent:config', 'tmpfs:', 'tmpfs-overlay:']);

/** statfs f_type to a name, as Incus's FSTypeToName. */
const FS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x6969, 'nfs'],
  [0x2fc12fc1, 'zfs'],
]);

export function fsTypeName(type: number): string {
  return FS_NAMES.get(type) ?? `0x${type.toString(16)}`;
}

/** /proc/mounts as mountpoint -> source device (the last mount of a path wins). */
export function parseMounts(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length >= 3) out.set(f[1]!.replace(/\\040/g, ' '), f[0]!);
  }
  return out;
}

/** statfs(2) figures of a path, and its st_dev when read with them. */
export interface PathStats {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  dev?: number;
}

/** What the figures of one instance need. */
export interface FsStatsInput {
  varDir: string;
  expandedDevices: DevicesMap;
  /** Mount path of the instance's root volume. */
  volumePath: string;
  /** /proc/mounts, parsed once per scrape. */
  mounts: ReadonlyMap<string, string>;
  /** The root volume's figures when read beforehand (null: unreadable); read here when absent. */
  root?: PathStats | null;
  /** Figures of a pool's directory, shared by a scrape's instances (see pathStatsOnce). */
  poolStats?: (path: string) => Promise<PathStats | null>;
}

/** Figures with st_dev, read once per path: the pools every instance of a scrape compares its volume with. */
export function pathStatsOnce(): (path: string) => Promise<PathStats | null> {
  const seen = new Map<string, Promise<PathStats | null>>();
  return (path) => {
    let p = seen.get(path);
    if (!p) seen.set(path, (p = withDev(path)));
    return p;
  };
}

async function withDev(path: string): Promise<PathStats | null> {
  const [fs, st] = await Promise.all([tryStatfs(path), stat(path).catch(() => null)]);
  return fs && st ? { type: fs.type, bsize: fs.bsize, blocks: fs.blocks, bfree: fs.bfree, bavail: fs.bavail, dev: st.dev } : null;
}

async function tryStatfs(path: string): Promise<PathStats | null> {
  try {
    return await statfs(path);
  } catch {
    return null;
  }
}

function figures(device: string, mountpoint: string, st: PathStats): FilesystemStats {
  return {
    device,
    mountpoint,
    fstype: fsTypeName(st.type),
    sizeBytes: st.blocks * st.bsize,
    availBytes: st.bavail * st.bsize,
    freeBytes: st.bfree * st.bsize,
  };
}

/**
 * Whether the volume is just a directory of its pool's filesystem. Incus
 * compares all statfs figures, which free space written in between makes
 * racy; here the same device, or the same type and size, says so.
 */
async function onPoolFs(volume: string, pool: string, v: PathStats, p: PathStats): Promise<boolean> {
  if (v.type === p.type && v.blocks === p.blocks) return true;
  if (v.dev !== undefined && p.dev !== undefined) return v.dev === p.dev;
  try {
    const [a, b] = await Promise.all([stat(volume), stat(pool)]);
    return a.dev === b.dev;
  } catch {
    return false;
  }
}

export async function filesystemStats(input: FsStatsInput): Promise<FilesystemStats[]> {
  const out: FilesystemStats[] = [];
  for (const dev of Object.values(input.expandedDevices)) {
    if (dev.type !== 'disk' || !dev.path) continue;
    if (dev.pool) {
      // Custom volumes: not measured yet.
      if (dev.source) continue;
      const poolPath = childPath(join(input.varDir, 'storage-pools'), dev.pool);
      const [st, pool] = await Promise.all([input.root !== undefined ? input.root : tryStatfs(input.volumePath), (input.poolStats ?? tryStatfs)(poolPath)]);
      if (!st || !pool || (await onPoolFs(input.volumePath, poolPath, st, pool))) continue;
      out.push(figures(input.mounts.get(input.volumePath) ?? '', dev.path, st));
      continue;
    }
    const source = dev.source ?? '';
    if (source === '' || SPECIAL_SOURCES.has(source)) continue;
    const st = await tryStatfs(source);
    if (!st) continue;
    out.push(figures(input.mounts.get(source) ?? source, dev.path, st));
  }
  return out;
}
