/**
 * Device plumbing through incusd-helper (never setns in Node): device nodes
 * on the host (mknod) and mounts injected into, or removed from, a running
 * container's mount namespace (forkmount, with the new mount API so that a
 * copy can be read-only or idmapped to the container).
 */
import { NativeError } from './errors';
import { helperFailure, runHelper } from './helper';
import { checkPath, checkPid } from './validate';

/** A mount to put into a running container. */
export interface InjectedMount {
  /** Host path: a directory, a file or a device node. */
  source: string;
  /** Absolute path inside the container; created (with parents) as the container's root. */
  target: string;
  /** Whether the target is a file (device nodes, file binds) or a directory. */
  kind: 'file' | 'dir';
  /** Copy the submounts too (rbind). */
  recursive?: boolean;
  readonly?: boolean;
  /** Idmap the copy to the container's user namespace (host uid 0 shows as root inside). */
  idmap?: boolean;
  /** private, shared, slave, unbindable or an r-prefixed form. */
  propagation?: string;
}

const PROPAGATION = /^r?(private|shared|slave|unbindable)$/;

async function helper(args: string[], op: string, path: string): Promise<void> {
  const res = await runHelper(args, { op });
  if (res.status === 0) return;
  const { code, message } = helperFailure(res);
  throw new NativeError(`${op}: ${message}`, { code, op, path });
}

/** mknod + exact owner and mode; replaces what is at `path`. */
export async function makeDeviceNode(
  path: string,
  type: 'c' | 'b',
  major: number,
  minor: number,
  mode: number,
  uid: number,
  gid: number,
): Promise<void> {
  checkPath('makeDeviceNode', 'path', path);
  for (const [what, v, max] of [['major', major, 0xfff], ['minor', minor, 0xfffff], ['mode', mode, 0o7777], ['uid', uid, 0xfffffffe], ['gid', gid, 0xfffffffe]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`makeDeviceNode: invalid ${what} ${String(v)}`);
  }
  if (type !== 'c' && type !== 'b') throw new TypeError(`makeDeviceNode: type must be "c" or "b"`);
  await helper(['mknod', path, type, String(major), String(minor), mode.toString(8), String(uid), String(gid)], 'makeDeviceNode', path);
}

/** The option list forkmount takes for `m`. */
export function forkmountOptions(m: InjectedMount): string {
  const opts = [m.recursive ? 'rbind' : 'bind', m.kind];
  if (m.readonly) opts.push('ro');
  if (m.idmap) opts.push('idmap');
  if (m.propagation) {
    if (!PROPAGATION.test(m.propagation)) throw new TypeError(`forkmount: invalid propagation ${JSON.stringify(m.propagation)}`);
    opts.push(m.propagation);
  }
  return opts.join(',');
}

/** Mounts m.source at m.target inside the container whose init is `pid`. */
export async function injectMount(pid: number, m: InjectedMount): Promise<void> {
  checkPid('injectMount', pid);
  checkPath('injectMount', 'source', m.source);
  checkPath('injectMount', 'target', m.target);
  await helper(['forkmount', 'mount', String(pid), m.source, m.target, forkmountOptions(m)], 'injectMount', m.target);
}

/**
 * Detaches what is mounted at `target` inside the container (nothing
 * mounted is fine) and removes the mount point when asked: `file` for a
 * device node's placeholder, `dir` for an empty directory.
 */
export async function removeInjectedMount(pid: number, target: string, remove: 'keep' | 'file' | 'dir'): Promise<void> {
  checkPid('removeInjectedMount', pid);
  checkPath('removeInjectedMount', 'target', target);
  await helper(['forkmount', 'umount', String(pid), target, remove], 'removeInjectedMount', target);
}
