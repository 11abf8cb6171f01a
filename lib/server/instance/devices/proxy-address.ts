/**
 * proxy device addresses, as Incus writes them: `<type>:<addr>:<port>[-<port>][,<port>]`
 * for tcp and udp (IPv6 in brackets), `unix:<path>` or `unix:@<abstract>`,
 * expanded into the one-port endpoints forkproxy takes.
 */
import { isIP } from 'node:net';

export interface ProxyAddress {
  type: 'tcp' | 'udp' | 'unix';
  /** IP literal (empty: every address) or unix path; `@name` is abstract. */
  address: string;
  /** Ports, ranges expanded (empty for unix). */
  ports: number[];
}

/** The most ports one device may forward. */
export const MAX_PROXY_PORTS = 64;

/** Parses an address; throws an Error saying what is wrong. */
export function parseProxyAddress(text: string): ProxyAddress {
  const colon = text.indexOf(':');
  const type = colon < 0 ? text : text.slice(0, colon);
  if (type !== 'tcp' && type !== 'udp' && type !== 'unix') throw new Error(`Unknown protocol type "${type}"`);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (rest === '') throw new Error('Missing address');
  if (type === 'unix') {
    if (!rest.startsWith('/') && !rest.startsWith('@')) throw new Error('A unix socket address must be an absolute path or @abstract');
    if (Buffer.byteLength(rest) > 107) throw new Error('Unix socket path too long');
    return { type, address: rest, ports: [] };
  }
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw new Error(`Invalid address "${rest}"`);
    host = rest.slice(1, end);
    portText = rest.slice(end + 2);
  } else {
    const last = rest.lastIndexOf(':');
    if (last < 0) throw new Error(`Missing port in address "${rest}"`);
    host = rest.slice(0, last);
    portText = rest.slice(last + 1);
  }
  // As Incus: IP literals only (a host name would be resolved wherever the helper runs).
  if (host !== '' && isIP(host) === 0) throw new Error(`Not an IP address "${host}"`);
  const ports: number[] = [];
  for (const part of portText.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`Invalid port "${part}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first < 1 || last > 65535 || last < first) throw new Error(`Invalid port range "${part}"`);
    for (let p = first; p <= last; p++) ports.push(p);
    if (ports.length > MAX_PROXY_PORTS) throw new Error(`At most ${MAX_PROXY_PORTS} ports per device`);
  }
  return { type, address: host, ports };
}

/** One endpoint in forkproxy's syntax. */
function endpoint(a: ProxyAddress, port: number | undefined): string {
  if (a.type === 'unix') return `unix:${a.address}`;
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return `${a.type}:${host}:${port}`;
}

/**
 * Checks that listen and connect go together; returns a reason or null.
 * A single connect port takes every listen port; otherwise counts match.
 */
export function proxyPairProblem(listen: ProxyAddress, connect: ProxyAddress): string | null {
  if (listen.type === 'udp' && connect.type !== 'udp') return `Proxying udp to ${connect.type} is not supported`;
  const lp = listen.type === 'unix' ? 1 : listen.ports.length;
  const cp = connect.type === 'unix' ? 1 : connect.ports.length;
  if (cp !== 1 && cp !== lp) return 'Mismatch between listen port(s) and connect port(s) count';
  return null;
}

/** The listen/connect endpoint pairs forkproxy relays, one per listen port. */
export function proxyPairs(listen: ProxyAddress, connect: ProxyAddress): [string, string][] {
  const listenPorts = listen.type === 'unix' ? [undefined] : listen.ports;
  return listenPorts.map((port, i) => {
    const cport = connect.type === 'unix' ? undefined : connect.ports.length === 1 ? connect.ports[0] : connect.ports[i];
    return [endpoint(listen, port), endpoint(connect, cport)];
  });
}
