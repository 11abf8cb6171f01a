/**
 * Which container a guest API caller is in, from the kernel's peer
 * credentials alone: the caller's pid is matched against the running
 * containers' init processes (ancestry first, then the pid namespace, for
 * processes attached from outside such as `incus exec`).
 */
import { readFile, readlink } from 'node:fs/promises';
import type { InstanceRecord } from '../db/instances';
import type { DaemonState } from '../state';
import type { PeerCredentials } from '../../native/peercred';
import { hostIdOfRoot } from '../instance/drivers/lxc/exec';

/** Why a caller was not served, worded as Incus words it. */
export class GuestDenied extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The container a caller belongs to. */
export interface GuestCaller {
  rec: InstanceRecord;
  initPid: number;
}

async function parentOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^PPid:\s+(\d+)$/m.exec(status);
  return m ? Number(m[1]) : 0;
}

async function pidNamespace(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/ns/pid`).catch(() => null);
}

/**
 * The running container whose init is `pid`'s ancestor or shares its pid
 * namespace. A container sharing the daemon's own pid namespace matches
 * nobody by namespace (it would claim every host process).
 */
async function containerOfPid(pid: number, running: Map<number, InstanceRecord>): Promise<GuestCaller | null> {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    const rec = running.get(p);
    if (rec) return { rec, initPid: p };
    p = await parentOf(p);
  }
  const ns = await pidNamespace(pid);
  const own = await pidNamespace(process.pid);
  if (!ns || ns === own) return null;
  for (const [initPid, rec] of running) {
    if ((await pidNamespace(initPid)) === ns) return { rec, initPid };
  }
  return null;
}

/**
 * Maps peer credentials to their container and checks that the caller is
 * the container's root, as Incus does. Throws GuestDenied otherwise.
 */
export async function identifyCaller(s: DaemonState, cred: PeerCredentials | null): Promise<GuestCaller> {
  if (!cred) throw new GuestDenied(500, 'pid not in container?');
  const recs = (await s.db.instances.listLocal(null)).filter((r) => r.type === 'container');
  const states = await s.drivers.states(recs);
  const running = new Map<number, InstanceRecord>();
  recs.forEach((r, i) => {
    if (states[i].pid > 0) running.set(states[i].pid, r);
  });
  const caller = await containerOfPid(cred.pid, running);
  if (!caller) throw new GuestDenied(500, 'pid not in container?');
  const uidMap = await readFile(`/proc/${caller.initPid}/uid_map`, 'utf8').catch(() => '');
  if (cred.uid !== hostIdOfRoot(uidMap)) throw new GuestDenied(401, 'Access denied for non-root user');
  return caller;
}
