/**
 * Interfaces inside containers' network namespaces, read for many
 * containers in one `incusd-helper netns-addrs` run (the helper joins each
 * namespace; Node never calls setns).
 */
import { helperFailure, runHelper } from './helper';
import { NativeError } from './errors';
import { checkPid } from './validate';

export interface NetnsAddress {
  family: string;
  address: string;
  /** Prefix length, as a string (Incus's format). */
  netmask: string;
  scope: string;
}

/** One interface as the helper reports it (counters are 32-bit). */
export interface NetnsInterface {
  addresses: NetnsAddress[];
  counters: Record<string, number>;
  hwaddr: string;
  mtu: number;
  state: string;
  type: string;
}

interface Row {
  pid: number;
  interfaces?: Record<string, NetnsInterface>;
  error?: string;
}

/**
 * The interfaces of each PID's network namespace, keyed by PID. A PID
 * whose namespace cannot be read (the container stopped meanwhile) is
 * left out rather than failing the batch.
 */
export async function netnsInterfaces(pids: number[]): Promise<Map<number, Record<string, NetnsInterface>>> {
  const out = new Map<number, Record<string, NetnsInterface>>();
  if (pids.length === 0) return out;
  for (const p of pids) checkPid('netnsInterfaces', p);
  const res = await runHelper(['netns-addrs', ...pids.map(String)], { op: 'netns-addrs' });
  if (res.status !== 0) {
    const f = helperFailure(res);
    throw new NativeError(`Failed to read container interfaces: ${f.message}`, { code: f.code, op: 'netns-addrs' });
  }
  for (const row of JSON.parse(res.stdout) as Row[]) {
    if (row.interfaces) out.set(row.pid, row.interfaces);
  }
  return out;
}
