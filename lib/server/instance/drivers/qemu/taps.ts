/**
 * Host tap devices for VM NICs: the devices' NIC requests (devices/run-config.ts)
 * turned into taps QEMU opens. A bridged NIC's tap joins its bridge; a
 * p2p/routed one stays on its own (routes point at it). macvlan would need
 * macvtap, not carried yet.
 */
import { existsSync } from 'node:fs';
import { badRequest } from '../../../errors';
import { ip } from '../../../network/tool';
import type { NicRequest } from '../../devices/run-config';
import { deleteLink, linkExists } from '../../devices/nic-link';
import type { QemuNic } from './qemu-spec';

/** Makes the tap for `nic`, up, on its bridge; returns the QEMU NIC. */
export async function createTap(nic: NicRequest, id: string): Promise<QemuNic> {
  if (nic.kind !== 'veth' || !nic.hostName) throw badRequest(`Device "${id}": NIC type "${nic.kind}" is not supported by virtual machines yet`);
  if (nic.vethMode === 'router') throw badRequest(`Device "${id}": routed NICs are not supported by virtual machines yet`);
  const tap = nic.hostName;
  if (linkExists(tap)) await deleteLink(tap);
  await ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
  try {
    if (nic.mtu) await ip('link', 'set', 'dev', tap, 'mtu', nic.mtu);
    if (nic.link) await ip('link', 'set', 'dev', tap, 'master', nic.link);
    await ip('link', 'set', 'dev', tap, 'up');
  } catch (err) {
    await deleteLink(tap).catch(() => undefined);
    throw err;
  }
  // vhost-net only where the host has it (these machines do not).
  return { id, tap, mac: nic.hwaddr, vhost: existsSync('/dev/vhost-net') };
}

/** Removes the taps of a stopped VM (those already gone are skipped). */
export async function removeTaps(nics: readonly QemuNic[]): Promise<void> {
  for (const n of nics) if (linkExists(n.tap)) await deleteLink(n.tap).catch(() => undefined);
}
