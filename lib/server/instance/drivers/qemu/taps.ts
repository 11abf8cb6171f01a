/**
 * Host tap devices for VM NICs: the devices' NIC requests (devices/run-config.ts)
 * turned into taps QEMU opens. A bridged NIC's tap joins its bridge; a
 * p2p/routed one stays on its own (routes point at it, set by the device's
 * post-start); a macvlan NIC is a macvtap whose device QEMU inherits as an fd.
 */
import { existsSync } from 'node:fs';
import { badRequest } from '../../../errors';
import { ip } from '../../../network/tool';
import type { NicRequest } from '../../devices/run-config';
import { deleteLink, isTapLink, replaceStaleTap } from '../../devices/nic-link';
import { closeFd, createMacvtap } from './macvtap';
import type { QemuNic } from './qemu-spec';

/**
 * Makes the host side of `nic`, up: a tap (on its bridge, if any), or a
 * macvtap opened for QEMU (`nodeDir`: where a private device node may go).
 * The caller closes a returned `fd` once QEMU has started (closeTapFds).
 */
export async function createTap(nic: NicRequest, id: string, nodeDir: string): Promise<QemuNic> {
  const device = nic.device ?? id;
  const vhost = existsSync('/dev/vhost-net');
  if (nic.kind === 'macvlan' && nic.hostName && nic.link) {
    const fd = await createMacvtap({ name: nic.hostName, parent: nic.link, hwaddr: nic.hwaddr, mtu: nic.mtu, mode: nic.macvlanMode, device, nodeDir });
    return { id, tap: nic.hostName, mac: nic.hwaddr, vhost, fd };
  }
  if (nic.kind !== 'veth' || !nic.hostName) throw badRequest(`Device "${device}": NIC type "${nic.kind}" is not supported by virtual machines yet`);
  const tap = nic.hostName;
  await replaceStaleTap(tap, device);
  await ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
  try {
    if (nic.mtu) await ip('link', 'set', 'dev', tap, 'mtu', nic.mtu);
    // Routed NICs stay off any bridge: the device's post-start routes to the tap.
    if (nic.link && nic.vethMode !== 'router') await ip('link', 'set', 'dev', tap, 'master', nic.link);
    await ip('link', 'set', 'dev', tap, 'up');
  } catch (err) {
    await deleteLink(tap).catch(() => undefined);
    throw err;
  }
  // vhost-net only where the host has it (these machines do not).
  return { id, tap, mac: nic.hwaddr, vhost };
}

/** Closes incusd's copies of the macvtap devices (QEMU keeps its own, or never got one). */
export async function closeTapFds(nics: readonly QemuNic[]): Promise<void> {
  for (const n of nics) {
    const fd = n.fd;
    n.fd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
  }
}

/** Removes the taps and macvtaps of a stopped VM (those already gone, and any other kind of link, are left). */
export async function removeTaps(nics: readonly QemuNic[]): Promise<void> {
  for (const n of nics) if (isTapLink(n.tap)) await deleteLink(n.tap).catch(() => undefined);
}
