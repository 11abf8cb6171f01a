/** Incus's ListenAddresses: where clients can reach `core.https_address` (GET /1.0, tokens). */
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { parseListenAddress } from './https-listener';

const join = (host: string, port: number): string => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);

/** Go's IP.IsGlobalUnicast: not loopback, link-local, multicast or unspecified. */
function isGlobalUnicast(ip: string, family: string): boolean {
  if (family === 'IPv4') return !/^(127\.|169\.254\.|0\.|22[4-9]\.|2[3-5]\d\.)/.test(ip);
  const l = ip.toLowerCase();
  return !(l === '::1' || l === '::' || l.startsWith('fe8') || l.startsWith('fe9') || l.startsWith('fea') || l.startsWith('feb') || l.startsWith('ff'));
}

/** host:port strings; a wildcard host lists the host's global unicast addresses (IPv4 only for 0.0.0.0). */
export function listenAddresses(config: string): string[] {
  if (config === '') return [];
  const { host, port } = parseListenAddress(config);
  if (host !== undefined && host !== '0.0.0.0' && host !== '::') return [join(host, port)];
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (!isGlobalUnicast(a.address, a.family)) continue;
      if (a.family === 'IPv6' && host === '0.0.0.0') continue;
      out.push(join(a.address, port));
    }
  }
  return out;
}
