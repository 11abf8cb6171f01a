/**
 * `incus network attach|detach|attach-profile|detach-profile`: a `nic`
 * device naming the network added to (or found and removed from) an
 * instance or a profile, with a read-modify-write under the ETag.
 */
import type { DeviceConfig, DevicesMap } from '../../api/instance';
import type { Network } from '../../api/network';
import type { CliContext } from '../context';
import { putForWire } from '../config-text';
import { localName } from '../remote';
import { instanceWritable, profileWritable } from '../writable';

type Owner = 'instance' | 'profile';

/** The device Incus adds for a network: `network=` when managed, else bridged/macvlan on `parent`. */
export function nicForNetwork(net: Pick<Network, 'name' | 'managed' | 'type'>, iface: string): DeviceConfig {
  const dev: DeviceConfig = net.managed
    ? { type: 'nic', network: net.name }
    : { type: 'nic', nictype: net.type === 'bridge' ? 'bridged' : 'macvlan', parent: net.name };
  if (iface) dev.name = iface;
  return dev;
}

/** The device of `devices` that connects to the network: by name if given, else the only one. */
export function findNetworkDevice(devices: DevicesMap, network: string, device?: string): string {
  if (device) {
    const d = devices[device];
    if (!d) throw new Error("The specified device doesn't exist");
    if (d.type !== 'nic' || (d.network !== network && d.parent !== network)) throw new Error("The specified device doesn't use the network");
    return device;
  }
  const matches = Object.entries(devices).filter(([, d]) => d.type === 'nic' && (d.network === network || d.parent === network));
  if (matches.length === 0) throw new Error('No device found for this network');
  if (matches.length > 1) throw new Error('More than one device matches, specify the device name');
  return matches[0]![0];
}

async function withDevices(ctx: CliContext, owner: Owner, name: string, change: (devices: DevicesMap) => DevicesMap): Promise<void> {
  const client = ctx.client();
  if (owner === 'profile') {
    const { value, etag } = await client.getProfileWithEtag(name);
    const put = profileWritable(value);
    await client.updateProfile(name, { ...put, devices: change(put.devices) }, { etag });
    return;
  }
  const { value, etag } = await client.getInstanceWithEtag(name);
  const put = instanceWritable(value);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  await putInstance(client, name, putForWire({ ...put, devices: change(put.devices) }), { etag });
}

/** `network attach` / `attach-profile`. */
export async function attachNetwork(ctx: CliContext, owner: Owner, networkArg: string, target: string, device?: string, iface?: string): Promise<number> {
  const { getNetwork } = require('../../client/networks') as typeof import('../../client/networks');
  const network = localName(networkArg);
  const net = await getNetwork(ctx.client(), network);
  const dev = device || network;
  await withDevices(ctx, owner, localName(target), (devices) => {
    if (devices[dev]) throw new Error('The device already exists');
    return { ...devices, [dev]: nicForNetwork(net, iface ?? '') };
  });
  return 0;
}

/** `network detach` / `detach-profile`. */
export async function detachNetwork(ctx: CliContext, owner: Owner, networkArg: string, target: string, device?: string): Promise<number> {
  const network = localName(networkArg);
  await withDevices(ctx, owner, localName(target), (devices) => {
    const dev = findNetworkDevice(devices, network, device);
    const out = { ...devices };
    delete out[dev];
    return out;
  });
  return 0;
}
