/**
 * Device nodes given to a container (unix-char, unix-block, gpu, tpm), as
 * Incus does it: the node is made on the host under
 * $INCUS_DIR/devices/<instance>/ with the owner the container should see
 * (shifted through the instance's id map), bind-mounted into the container,
 * and allowed in the devices cgroup. At start as a mount and a device
 * rule the instance driver applies; on a running container through
 * forkmount and a devices.allow write. As in Incus, a device whose
 * container path another device's node already takes gets its host node
 * only (the first one stays mounted), and removing it leaves the other's
 * mount alone.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { injectMount, makeDeviceNode, removeInjectedMount } from '../../../native/devices';
import type { IdmapEntry } from '../idmap-alloc';
import type { DeviceStartContext } from './interface';
import type { DeviceRunConfig } from './run-config';
import { containerPathOfNode, nodeDestKey, splitDev, unixNodeHostPath } from './paths';

/** A device node as the container should see it. */
export interface UnixNode {
  /** Absolute path inside the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits. */
  mode: number;
  /** Owner inside the container. */
  uid: number;
  gid: number;
}

/** Incus's default mode for device nodes. */
export const DEFAULT_NODE_MODE = 0o660;

/**
 * Devices every container gets anyway (Incus's base allow list): removing a
 * hot-plugged copy of one of them must not deny it in the cgroup.
 */
const BASE_DEVICES = new Set(['c:1:3', 'c:1:5', 'c:1:7', 'c:1:8', 'c:1:9', 'c:5:0', 'c:5:1', 'c:5:2', 'c:10:229', 'c:10:200']);

function isBaseDevice(type: string, major: number, minor: number): boolean {
  return (type === 'c' && major === 136) || BASE_DEVICES.has(`${type}:${major}:${minor}`);
}

/** The host id that container id `id` maps to (itself for a privileged container). */
export function hostId(map: IdmapEntry[] | null, id: number, kind: 'uid' | 'gid'): number {
  if (!map) return id;
  for (const e of map) {
    if ((kind === 'uid' ? e.isUid : e.isGid) && id >= e.nsId && id < e.nsId + e.range) return e.hostId + (id - e.nsId);
  }
  throw new Error(`${kind} ${id} has no mapping in the container's id map`);
}

/** The cgroup rule allowing `node`, e.g. `c 1:5 rwm`. */
export function cgroupRule(node: Pick<UnixNode, 'type' | 'major' | 'minor'>): string {
  return `${node.type} ${node.major}:${node.minor} rwm`;
}

/** A host node made for a device; `dupe` when another device's node already takes its container path. */
export interface PreparedNode {
  path: string;
  dupe: boolean;
}

/** What the driver does at start for a node: bind the host node at node.path, and allow it (nothing for a dupe). */
export function nodeRunConfig(prepared: PreparedNode, node: UnixNode): DeviceRunConfig {
  if (prepared.dupe) return {};
  return {
    mounts: [{ source: prepared.path, target: node.path, kind: 'file' }],
    allowDevices: [{ type: node.type, major: node.major, minor: node.minor }],
  };
}

/** Names of the files in the instance's devices directory (none when it does not exist). */
async function deviceFiles(devicesDir: string): Promise<string[]> {
  return readdir(devicesDir).catch(() => []);
}

/** Makes the host node of device ctx.name for `node`. */
export async function prepareNode(ctx: DeviceStartContext, node: UnixNode): Promise<PreparedNode> {
  await mkdir(ctx.devicesDir, { recursive: true, mode: 0o711 });
  const path = unixNodeHostPath(ctx.devicesDir, ctx.name, node.path);
  const key = nodeDestKey(basename(path));
  const dupe = (await deviceFiles(ctx.devicesDir)).some((n) => n !== basename(path) && n.startsWith('unix.') && nodeDestKey(n) === key);
  const map = ctx.inst.idmap;
  await makeDeviceNode(path, node.type, node.major, node.minor, node.mode, hostId(map, node.uid, 'uid'), hostId(map, node.gid, 'gid'));
  return { path, dupe };
}

/** Puts `node` into the running container (ctx.pid): host node, cgroup allow, bind mount. */
export async function plugNode(ctx: DeviceStartContext, node: UnixNode): Promise<void> {
  const prepared = await prepareNode(ctx, node);
  if (prepared.dupe) return;
  if (ctx.host.devicesCgroup !== 0) await ctx.setCgroup('devices.allow', cgroupRule(node));
  await injectMount(ctx.pid!, { source: prepared.path, target: node.path, kind: 'file' });
}

/** The host node files of device ctx.name, with the container path each stands for. */
async function ownNodes(ctx: DeviceStartContext): Promise<{ file: string; target: string }[]> {
  const others = Object.keys(ctx.inst.expandedDevices);
  const out: { file: string; target: string }[] = [];
  for (const file of await deviceFiles(ctx.devicesDir)) {
    const target = containerPathOfNode(file, ctx.name, others);
    if (target !== null) out.push({ file, target });
  }
  return out;
}

/** Whether device ctx.name has a node on the host (it is plugged). */
export async function hasHostNodes(ctx: DeviceStartContext): Promise<boolean> {
  return (await ownNodes(ctx)).length > 0;
}

/** Whether another device of the instance still passes the same device number in. */
function numberStillUsed(ctx: DeviceStartContext, except: string, rdev: bigint): boolean {
  let names: string[];
  try {
    names = readdirSync(ctx.devicesDir);
  } catch {
    return false;
  }
  for (const n of names) {
    if (!n.startsWith('unix.') || join(ctx.devicesDir, n) === except) continue;
    try {
      if (lstatSync(join(ctx.devicesDir, n), { bigint: true }).rdev === rdev) return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

/**
 * Takes every node of device ctx.name out of the running container: the
 * bind mount and placeholder inside, the cgroup rule (unless a base device
 * or still used by another device), then the host node. A container path
 * that another device's node also takes keeps its mount.
 */
export async function unplugNodes(ctx: DeviceStartContext): Promise<void> {
  const own = await ownNodes(ctx);
  const ownFiles = new Set(own.map((n) => n.file));
  const otherKeys = new Set((await deviceFiles(ctx.devicesDir)).filter((n) => n.startsWith('unix.') && !ownFiles.has(n)).map(nodeDestKey));
  for (const { file, target } of own) {
    const hostPath = join(ctx.devicesDir, file);
    if (!otherKeys.has(nodeDestKey(file))) {
      if (ctx.pid) await removeInjectedMount(ctx.pid, target, 'file');
      const st = lstatSync(hostPath, { bigint: true });
      const { major, minor } = splitDev(st.rdev);
      const type = st.isBlockDevice() ? 'b' : 'c';
      if (ctx.pid && ctx.host.devicesCgroup !== 0 && !isBaseDevice(type, major, minor) && !numberStillUsed(ctx, hostPath, st.rdev)) {
        await ctx.setCgroup('devices.deny', `${type} ${major}:${minor} rwm`);
      }
    }
    await rm(hostPath, { force: true });
  }
}

/** Removes the host nodes of device ctx.name (the container has stopped). */
export async function removeHostNodes(ctx: DeviceStartContext): Promise<void> {
  await Promise.all((await ownNodes(ctx)).map((n) => rm(join(ctx.devicesDir, n.file), { force: true })));
}
