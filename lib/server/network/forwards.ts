/**
 * Network forwards on managed bridges: a listen address (one per network)
 * with a description, config and port rules, as Incus's bridge
 * ForwardCreate/Update/Delete. A listen address may not overlap another
 * network's subnet, another network's forward, or the listen address of a
 * proxy device; proxies check the reverse (devices/proxy.ts).
 * Port rules are not turned into firewall rules here yet, so forwards with
 * ports are refused rather than stored without effect.
 */
import type { NetworkForward, NetworkForwardPut, NetworkForwardsPost } from '../../api/network-forward';
import type { Db } from '../db';
import type { NetworkForwardRecord } from '../db/network-forwards';
import type { NetworkRecord } from '../db/networks';
import { badRequest, conflict, notFound, StatusError } from '../errors';
import { type Cidr, formatCidr, overlaps, parseCidr, parseIp } from './cidr';
import { expandedInstances } from './used-by';
import { parseProxyAddress } from '../instance/devices/proxy-address';

/** The API shape of a stored forward. */
export function forwardToApi(r: NetworkForwardRecord): NetworkForward {
  return { listen_address: r.listenAddress, description: r.description, config: r.config, ports: r.ports, location: 'none' };
}

/** The single-address prefix of a listen address (Incus's ParseIPToNet), or null. */
function addressNet(text: string): Cidr | null {
  const ip = parseIp(text);
  return ip ? { ...ip, prefix: ip.family === 4 ? 32 : 128 } : null;
}

/** Listen addresses of every instance's proxy devices (profiles expanded). */
export async function proxyListenAddresses(db: Db): Promise<string[]> {
  const out: string[] = [];
  for (const { devices } of await expandedInstances(db)) {
    for (const d of Object.values(devices)) {
      if (d.type !== 'proxy' || !d.listen) continue;
      try {
        out.push(parseProxyAddress(d.listen).address);
      } catch {
        // A listen value that does not parse cannot clash with anything.
      }
    }
  }
  return out;
}

function checkPut(put: Partial<NetworkForwardPut>): void {
  if ((put.ports ?? []).length > 0) throw badRequest('Network forward ports are not supported yet');
}

/** Subnets and addresses in use outside `net` that a new listen address may not overlap. */
async function usedElsewhere(db: Db, net: NetworkRecord): Promise<Cidr[]> {
  const out: Cidr[] = [];
  for (const other of await db.networks.all()) {
    if (other.id === net.id) continue;
    for (const key of ['ipv4.address', 'ipv6.address']) {
      const c = parseCidr(other.config[key] ?? '');
      if (c) out.push(c);
    }
  }
  for (const f of await db.networkForwards.all()) {
    const c = f.networkId === net.id ? null : addressNet(f.listenAddress);
    if (c) out.push(c);
  }
  for (const a of await proxyListenAddresses(db)) {
    const c = addressNet(a);
    if (c) out.push(c);
  }
  return out;
}

export async function listForwards(db: Db, net: NetworkRecord): Promise<NetworkForward[]> {
  return (await db.networkForwards.list(net.id)).map(forwardToApi);
}

export async function getForward(db: Db, net: NetworkRecord, listenAddress: string): Promise<NetworkForwardRecord> {
  const r = await db.networkForwards.get(net.id, listenAddress);
  if (!r) throw notFound('Network forward not found');
  return r;
}

export async function createForward(db: Db, net: NetworkRecord, post: NetworkForwardsPost): Promise<void> {
  const failed = (msg: string): StatusError => new StatusError(500, `Failed creating forward: ${msg}`);
  if (await db.networkForwards.get(net.id, post.listen_address)) throw conflict('Failed creating forward: A forward for that listen address already exists');
  const listen = addressNet(post.listen_address);
  if (!listen) throw failed(`Failed parsing address forward listen address "${post.listen_address}": Not an IP address`);
  checkPut(post);
  for (const used of await usedElsewhere(db, net)) {
    // Purposefully vague, as Incus: names of resources outside the network are not revealed.
    if (overlaps(used, listen)) throw failed(`Forward listen address "${formatCidr(listen)}" overlaps with another network or NIC`);
  }
  await db.networkForwards.create({
    networkId: net.id,
    listenAddress: post.listen_address,
    description: post.description ?? '',
    config: post.config ?? {},
    ports: post.ports ?? [],
  });
}

export async function updateForward(db: Db, net: NetworkRecord, listenAddress: string, put: Partial<NetworkForwardPut>): Promise<void> {
  const rec = await getForward(db, net, listenAddress);
  checkPut(put);
  await db.networkForwards.update({ id: rec.id, description: put.description ?? '', config: put.config ?? {}, ports: put.ports ?? [] });
}

export async function deleteForward(db: Db, net: NetworkRecord, listenAddress: string): Promise<void> {
  const rec = await getForward(db, net, listenAddress);
  await db.networkForwards.delete(rec.id);
}
