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
const COUNTERS = /^\s*([^\s:]+):\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s*$/gm;

export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  // One match per interface line; the header lines do not match.
  COUNTERS.lastIndex = 0;
  for (let m = COUNTERS.exec(text); m !== null; m = COUNTERS.exec(text)) {
    out.push({
      device: m[1]!,
      receiveBytes: Number(m[2]),
      receivePackets: Number(m[3]),
      receiveErrs: Number(m[4]),
      receiveDrop: Number(m[5]),
      transmitBytes: Number(m[6]),
      transmitPackets: Number(m[7]),
      transmitErrs: Number(m[8]),
      transmitDrop: Number(m[9]),
    });
  }
  return out;
}
