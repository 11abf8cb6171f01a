/**
 * Custom volumes live in a root-only folder (storage-pools/<pool>/custom is
 * 0700, see storage/modes.ts), which an unprivileged container's root cannot
 * traverse, and liblxc makes idmapped mount entries from inside the new user
 * namespace. As Incus does, such a volume is first bind-mounted under the
 * instance's devices directory ($INCUS_DIR/devices/<name>, 0711), and the
 * mount entry names that path. liblxc only needs it while it clones the
 * mount, so the staging mount goes again once the container runs. A block
 * device `source` is staged the same way: its filesystem mounted there.
 * See mount(8) (--bind), umount(8) (-l), proc(5) (mountinfo).
 */
import { lstat, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../images/run';
import { mkdirMode } from '../../storage/modes';

/** Where a disk device's volume is staged: devices/<dirName>/disk.<device>. */
export function stagedPath(devicesDir: string, device: string): string {
  return join(devicesDir, `disk.${device.replace(/\//g, '-')}`);
}

/** Mount points at or below dir, deepest first (mountinfo escapes spaces and the like as octal). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Bind-mounts `source` (a directory, or a file for a volume sub-path) at the
 * device's staging path and returns that path. The source is taken as
 * given (a /proc/<pid>/fd/<fd> descriptor path must not be resolved again).
 */
export async function stageVolume(source: string, devicesDir: string, device: string, isDir = true): Promise<string> {
  await mkdirMode(devicesDir, 0o711);
  const target = stagedPath(devicesDir, device);
  await unstageVolume(devicesDir, device);
  if (isDir) await mkdirMode(target, 0o700);
  else await writeFile(target, '', { mode: 0o600, flag: 'wx' });
  await run('mount', ['--no-canonicalize', '--bind', source, target]);
  return target;
}

/** Detaches the device's staging mount, if any, and removes its mount point. */
export async function unstageVolume(devicesDir: string, device: string): Promise<void> {
  const target = stagedPath(devicesDir, device);
  // No mount point, no mount: mountinfo is long on a busy host.
  if ((await lstat(target).catch(() => null)) === null) return;
  for (const m of await mountsUnder(target)) await run('umount', ['-l', m]);
  // A directory, or a file for a volume sub-path that is one.
  const st = await lstat(target).catch(() => null);
  if (st?.isDirectory()) await rmdir(target);
  else if (st) await unlink(target);
}

/**
 * Detaches every mount below dir; throws when one stays, so that a
 * recursive removal of dir can never reach into a volume.
 */
export async function unmountUnder(dir: string): Promise<void> {
  for (const m of await mountsUnder(dir)) await run('umount', ['-l', m]).catch(() => undefined);
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`Mounts left under "${dir}": ${left.join(', ')}`);
}
