/**
 * Releases a removed NIC's DHCP leases from a managed bridge's dnsmasq, as
 * Incus's networkClearLease: for each matching line of dnsmasq.leases, a
 * DHCPRELEASE (RFC 2131) or DHCPv6 Release (RFC 8415) sent to the bridge's
 * own address on the client's behalf, so dnsmasq drops the lease at once.
 * IPv4 leases match on the MAC, IPv6 ones on the host name.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { parseIp } from './cidr';
import { ipJson } from './tool';

const hexBytes = (s: string): Buffer => Buffer.from(s.replace(/:/g, ''), 'hex');

/** A DHCPRELEASE from `mac` / `ip` to server `server`. */
export function dhcpv4Release(mac: string, ip: string, server: string): Buffer {
  const p = Buffer.alloc(300);
  p[0] = 1; // BOOTREQUEST
  p[1] = 1; // Ethernet
  p[2] = 6;
  randomBytes(4).copy(p, 4);
  Buffer.from(ip.split('.').map(Number)).copy(p, 12); // ciaddr
  hexBytes(mac).copy(p, 28); // chaddr
  const opts = [99, 130, 83, 99, 53, 1, 7, 54, 4, ...server.split('.').map(Number), 255];
  Buffer.from(opts).copy(p, 236);
  return p;
}

const v6Bytes = (ip: string): Buffer => {
  const a = parseIp(ip);
  return Buffer.from((a?.addr ?? 0n).toString(16).padStart(32, '0'), 'hex');
};

const option6 = (code: number, data: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(data.length, 2);
  return Buffer.concat([h, data]);
};

/** A DHCPv6 Release of `ip` (IA_NA `iaid`) by client `duid`, to the server with `serverDuid`. */
export function dhcpv6Release(duid: string, iaid: number, ip: string, serverDuid: string): Buffer {
  const iaAddr = option6(5, Buffer.concat([v6Bytes(ip), Buffer.alloc(8)]));
  const iaHead = Buffer.alloc(12);
  iaHead.writeUInt32BE(iaid >>> 0, 0);
  return Buffer.concat([
    Buffer.from([8]), // Release
    randomBytes(3),
    option6(2, hexBytes(serverDuid)),
    option6(1, hexBytes(duid)),
    option6(3, Buffer.concat([iaHead, iaAddr])),
  ]);
}

function send(type: 'udp4' | 'udp6', msg: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket(type);
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.send(msg, port, host, (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Releases the leases of `hwaddr` (IPv4) and `hostname` (IPv6) that `leasesFile` lists for `bridge`'s dnsmasq. */
export async function releaseLeases(bridge: string, leasesFile: string, hwaddr: string, hostname: string): Promise<void> {
  const text = await readFile(leasesFile, 'utf8').catch(() => '');
  if (!text) return;
  // From `ip`: Node's list leaves out a bridge without carrier (its last port just went).
  const [link] = await ipJson<{ addr_info?: { family: string; local: string; scope: string }[] }>('addr', 'show', 'dev', bridge);
  const addrs = (link?.addr_info ?? []).filter((a) => a.scope === 'global');
  const server4 = addrs.find((a) => a.family === 'inet')?.local;
  const server6 = addrs.find((a) => a.family === 'inet6')?.local;
  const mac = hwaddr.toLowerCase();
  let serverDuid = '';
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 2 && f[0] === 'duid') serverDuid = f[1]!;
    if (f.length !== 5) continue;
    const [, id, ip, name, clientId] = f as [string, string, string, string, string];
    if (ip.includes(':')) {
      if (name === hostname && server6 && serverDuid) await send('udp6', dhcpv6Release(clientId, Number(id), ip, serverDuid), 547, server6);
    } else if (id.toLowerCase() === mac && server4) {
      await send('udp4', dhcpv4Release(mac, ip, server4), 67, server4);
    }
  }
}
