/**
 * What interactive `incus admin init` looks up on the machine it runs on,
 * as Incus's CLI does (it runs next to its daemon): the daemon's directory,
 * its filesystem, whether we run in a user namespace, host interfaces,
 * tools on $PATH, and whether an address can be bound.
 */
import { accessSync, constants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** internalUtil.VarPath: $INCUS_DIR, else /var/lib/incus. */
export function varPath(env: NodeJS.ProcessEnv, ...parts: string[]): string {
  return join(env.INCUS_DIR || '/var/lib/incus', ...parts);
}

const FS_MAGIC: Record<number, string> = { 0x9123683e: 'btrfs', 0x2fc12fc1: 'zfs' };

/** linux.DetectFilesystem, reduced to what init asks about: btrfs, zfs, else dir (also when statfs fails). */
export function backingFilesystem(path: string): string {
  try {
    return FS_MAGIC[statfsSync(path).type] ?? 'dir';
  } catch {
    return 'dir';
  }
}

/** Incus's default loop size in GiB: 20% of the filesystem of `path`, kept within 5 to 30. */
export function defaultLoopSizeGiB(path: string): number {
  const st = statfsSync(path);
  const gib = Math.floor((st.bsize * st.blocks) / 1024 ** 3 / 5);
  return Math.max(Math.min(gib, 30), 5);
}

/** linux.RunningInUserNS: the uid map is not the whole range. */
export function runningInUserNS(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
  } catch {
    return false;
  }
}

/** Whether /sys/class/net/NAME (and `/bridge` below it with `bridge`) exists here. */
export function hostInterfaceExists(name: string, bridge = false): boolean {
  return existsSync(join('/sys/class/net', name, bridge ? 'bridge' : ''));
}

/** exec.LookPath: whether `tool` is an executable in $PATH. */
export function onPath(tool: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // Not in this one.
    }
  }
  return false;
}

/** net.Listen then Close: null when `host:port` can be bound, else the reason. */
export function bindProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: Error) => resolve(err.message));
    srv.listen({ host: host.replace(/^\[(.*)\]$/, '$1'), port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}
