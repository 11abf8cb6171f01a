/**
 * Disk sources that are not a host path to bind as it is: `tmpfs:` (a new
 * tmpfs at the mount point, sized by `size`, with initial.mode/uid/gid as
 * its root's mode and owner) and a host block device (its filesystem,
 * type detected by mount(8), is mounted on the host first with
 * raw.mount.options and then bound in), as Incus's disk device does.
 * See mount(8), tmpfs(5).
 */
import { mkdirMode } from '../../storage/modes';
import { run } from '../../images/run';
import { parseSize } from '../config/units';
import { stagedPath, unstageVolume } from './disk-staging';

/** Incus's `source` value for a tmpfs disk. */
export const TMPFS_SOURCE = 'tmpfs:';

/** The tmpfs mount options a `tmpfs:` disk asks for. */
export function tmpfsOptions(config: Record<string, string>): string[] {
  const out: string[] = [];
  if (config.size) out.push(`size=${parseSize(config.size)}`);
  if (config['initial.mode']) out.push(`mode=${config['initial.mode']}`);
  if (config['initial.uid']) out.push(`uid=${config['initial.uid']}`);
  if (config['initial.gid']) out.push(`gid=${config['initial.gid']}`);
  return out;
}

/** raw.mount.options as a list (comma-separated, empty entries dropped). */
export function rawMountOptions(config: Record<string, string>): string[] {
  return (config['raw.mount.options'] ?? '').split(',').filter((o) => o !== '');
}

/**
 * Mounts `fstype` (or, without one, the filesystem on the block device
 * `source`) at the device's staging path and returns that path; it goes
 * again with unstageVolume.
 */
export async function mountStaged(source: string, devicesDir: string, device: string, options: string[], fstype?: string): Promise<string> {
  await mkdirMode(devicesDir, 0o711);
  await unstageVolume(devicesDir, device);
  const target = stagedPath(devicesDir, device);
  await mkdirMode(target, 0o700);
  const args = fstype ? ['-t', fstype] : [];
  if (options.length > 0) args.push('-o', options.join(','));
  await run('mount', [...args, '--no-canonicalize', source, target]);
  return target;
}
