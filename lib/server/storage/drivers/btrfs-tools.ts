/**
 * Thin wrappers over btrfs-progs, losetup and mount(8) for the btrfs
 * driver: loop files, subvolumes, snapshots and qgroup limits.
 * See btrfs-subvolume(8), btrfs-qgroup(8), btrfs-quota(8), losetup(8).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../images/run';

/** Runs a tool and returns its stdout as text. */
async function out(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args, { stdout: true })).toString();
}

/** Whether something is mounted exactly at path (per /proc/self/mountinfo). */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((l) => l.split(' ')[4] === escaped);
}

/** Loop devices backed by file (losetup -j), possibly none. */
export async function loopsOf(file: string): Promise<string[]> {
  const text = await out('losetup', ['-j', file]);
  return text
    .split('\n')
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean);
}

/** Attaches file to a free loop device and returns the device path. */
export async function attachLoop(file: string): Promise<string> {
  return (await out('losetup', ['-f', '--show', file])).trim();
}

export async function detachLoop(dev: string): Promise<void> {
  await run('losetup', ['-d', dev]);
}

/** Makes the kernel read a loop device's size again, after its backing file grew. */
export async function loopSetCapacity(dev: string): Promise<void> {
  await run('losetup', ['-c', dev]);
}

/** Grows the filesystem mounted at `mountPath` to the whole of its device. */
export async function filesystemResizeMax(mountPath: string): Promise<void> {
  await run('btrfs', ['filesystem', 'resize', 'max', mountPath]);
}

export async function mkfsBtrfs(dev: string): Promise<void> {
  await run('mkfs.btrfs', ['-q', '-f', dev]);
}

export async function mountBtrfs(dev: string, target: string, options: string): Promise<void> {
  await run('mount', ['-t', 'btrfs', '-o', options, dev, target]);
}

export async function umount(target: string): Promise<void> {
  await run('umount', [target]);
}

/** The filesystem type at path (stat -f). */
export async function fsType(path: string): Promise<string> {
  return (await out('stat', ['-f', '-c', '%T', path])).trim();
}

export async function subvolumeCreate(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'create', path]);
}

/** A snapshot of src at dst, read-only when asked. */
export async function subvolumeSnapshot(src: string, dst: string, readonly: boolean): Promise<void> {
  await run('btrfs', ['subvolume', 'snapshot', ...(readonly ? ['-r'] : []), src, dst]);
}

/** Deletes a subvolume. */
export async function subvolumeDelete(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'delete', path]);
}

/** Makes a subvolume writable (a restored read-only snapshot). */
export async function subvolumeSetWritable(path: string): Promise<void> {
  await run('btrfs', ['property', 'set', '-ts', path, 'ro', 'false']);
}

/** Subvolumes directly inside the subvolume at path (`btrfs subvolume list -o`), as paths from the filesystem's top. */
export async function subvolumesBelow(path: string): Promise<string[]> {
  const text = await out('btrfs', ['subvolume', 'list', '-o', path]);
  return text
    .split('\n')
    .map((l) => /\spath (.*)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}

/** Whether path is the top of a subvolume (inode 256 on btrfs). */
export async function isSubvolume(path: string): Promise<boolean> {
  try {
    return (await out('stat', ['-c', '%i', path])).trim() === '256';
  } catch {
    return false;
  }
}

export async function quotaEnable(mountPath: string): Promise<void> {
  await run('btrfs', ['quota', 'enable', mountPath]);
}

/** Limits the referenced bytes of a subvolume; `none` removes the limit. */
export async function qgroupLimit(path: string, bytes: number | null): Promise<void> {
  await run('btrfs', ['qgroup', 'limit', bytes === null ? 'none' : String(bytes), path]);
}

/** Referenced bytes of a subvolume's qgroup (btrfs qgroup show -rf --raw). */
export async function qgroupReferenced(path: string): Promise<number | null> {
  const text = await out('btrfs', ['qgroup', 'show', '-f', '--raw', path]);
  const line = text.split('\n').find((l) => /^0\/\d+\s/.test(l.trim()));
  if (!line) return null;
  const n = Number(line.trim().split(/\s+/)[1]);
  return Number.isFinite(n) ? n : null;
}

/** The referenced-bytes limit of a subvolume's qgroup, null when none. */
export async function qgroupMaxReferenced(path: string): Promise<number | null> {
  const text = await out('btrfs', ['qgroup', 'show', '-re', '-f', '--raw', path]);
  const line = text.split('\n').find((l) => /^0\/\d+\s/.test(l.trim()));
  const n = Number(line?.trim().split(/\s+/)[3]);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Subvolume UUIDs under a pool mount: path → {uuid, received} (`btrfs subvolume list -u -R`). */
export async function subvolumeUuids(mountPath: string): Promise<Map<string, { uuid: string; received: string }>> {
  const text = await out('btrfs', ['subvolume', 'list', '-u', '-R', mountPath]);
  const map = new Map<string, { uuid: string; received: string }>();
  for (const line of text.split('\n')) {
    // ID n gen n top level n received_uuid R uuid U path P
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    map.set(join(mountPath, f.slice(12).join(' ')), { uuid: f[10]!, received: f[8] === '-' ? '' : f[8]! });
  }
  return map;
}
