/**
 * macvtap devices for VMs' macvlan NICs (Incus's nic_macvlan.go for VMs):
 * a macvtap on the NIC's parent with the NIC's MAC, up, and its character
 * device `/dev/tap<ifindex>` opened for QEMU, which gets the descriptor by
 * inheritance (`-netdev tap,fd=N`). The node is checked against the
 * device numbers sysfs gives: devtmpfs names nodes by ifindex, which is
 * only unique per network namespace; a missing or foreign node is replaced
 * by a private one made in `nodeDir`.
 */
import { close, constants, fstat, open } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { badRequest } from '../../../errors';
import { ToolError, ip, runTool } from '../../../network/tool';
import { deleteLink, linkExists, replaceStaleTap } from '../../devices/nic-link';

const openFd = promisify(open);
const fstatFd = promisify(fstat);
/** Closes a descriptor {@link createMacvtap} returned. */
export const closeFd = promisify(close);

/** What {@link createMacvtap} is given. */
export interface MacvtapOptions {
  /** Host name of the macvtap. */
  name: string;
  /** The interface it sits on. */
  parent: string;
  hwaddr: string;
  mtu?: string;
  /** macvlan mode: bridge (default), vepa, passthru, private. */
  mode?: string;
  /** The device, for error messages. */
  device: string;
  /** Where a private device node may be made (the VM's run directory). */
  nodeDir: string;
}

/** Creates the macvtap, up, and returns its device opened read/write (CLOEXEC); the caller closes it once QEMU holds it. */
export async function createMacvtap(o: MacvtapOptions): Promise<number> {
  if (!linkExists(o.parent)) throw badRequest(`Device "${o.device}": Parent device "${o.parent}" doesn't exist`);
  await replaceStaleTap(o.name, o.device);
  const args = ['link', 'add', 'link', o.parent, 'name', o.name, 'address', o.hwaddr];
  if (o.mtu) args.push('mtu', o.mtu);
  try {
    await ip(...args, 'type', 'macvtap', 'mode', o.mode || 'bridge');
  } catch (err) {
    const why = err instanceof ToolError ? err.stderr.trim() || err.message : (err as Error).message;
    throw badRequest(`Device "${o.device}": Failed to create macvtap "${o.name}" on "${o.parent}": ${why}`);
  }
  try {
    // All multicast for IPv6 neighbour discovery, as Incus sets it.
    await ip('link', 'set', 'dev', o.name, 'allmulticast', 'on', 'up');
    // No IPv6 link-local address on the host side (it is the guest's interface).
    await writeFile(`/proc/sys/net/ipv6/conf/${o.name}/disable_ipv6`, '1').catch(() => undefined);
    return await openTapNode(o.name, o.nodeDir);
  } catch (err) {
    await deleteLink(o.name).catch(() => undefined);
    throw err;
  }
}

/** Opens the macvtap's character device, making sure it is this macvtap's. */
async function openTapNode(name: string, nodeDir: string): Promise<number> {
  const ifindex = (await readFile(`/sys/class/net/${name}/ifindex`, 'utf8')).trim();
  const [major, minor] = (await readFile(`/sys/class/net/${name}/macvtap/tap${ifindex}/dev`, 'utf8')).trim().split(':').map(Number);
  const rdev = (major! << 8) | (minor! & 0xff) | ((minor! & ~0xff) << 12);
  const shared = `/dev/tap${ifindex}`;
  const fd = await openFd(shared, constants.O_RDWR).catch(() => null);
  if (fd !== null) {
    const st = await fstatFd(fd).catch(() => null);
    if (st?.rdev === rdev) return fd;
    await closeFd(fd);
  }
  // No node, or another namespace's macvtap with the same ifindex owns it.
  const own = join(nodeDir, `${name}.tap`);
  await mkdir(nodeDir, { recursive: true, mode: 0o700 });
  await rm(own, { force: true });
  await runTool('mknod', ['-m', '0600', own, 'c', String(major), String(minor)]);
  try {
    return await openFd(own, constants.O_RDWR);
  } finally {
    await rm(own, { force: true });
  }
}
