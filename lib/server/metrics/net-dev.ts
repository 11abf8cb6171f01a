/**
 * Interface counters from /proc/<pid>/net/dev: the counters of the network
 * namespace that process lives in, readable from the host without entering
 * it (proc(5)). The same rtnl_link_stats64 figures Incus reads over netlink
 * inside the container's namespace (NetnsGetifaddrs).
 */

export interface InterfaceCounters {
  device: string;
  receiveBytes: number;
  receivePackets: number;
  receiveErrs: number;
  receiveDrop: number;
  transmitBytes: number;
  transmitPackets: number;
  transmitErrs: number;
  transmitDrop: number;
}

/**
 * Parses net/dev: two header lines, then "name: rx bytes packets errs drop
 * fifo frame compressed multicast, tx bytes packets errs drop fifo colls
 * carrier compressed".
 */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (device === '' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({
      device,
      receiveBytes: f[0]!,
      receivePackets: f[1]!,
      receiveErrs: f[2]!,
      receiveDrop: f[3]!,
      transmitBytes: f[8]!,
      transmitPackets: f[9]!,
      transmitErrs: f[10]!,
      transmitDrop: f[11]!,
    });
  }
  return out;
}
