/**
 * Opens a file session (a forkfile helper) on an instance: inside the
 * namespaces of its init when it runs; in its rootfs otherwise, as Incus
 * does for stopped containers, under the on-disk idmap when the rootfs is
 * shifted. Waits for any state change in progress so that the choice
 * between the two cannot be overtaken by a start or stop.
 */
import { join } from 'node:path';
import { FileSession, type ForkfileTarget } from '../../../native/forkfile';
import type { InstanceRecord } from '../../db/instances';
import { StatusError } from '../../errors';
import type { InstanceDriver } from '../interface';
import type { InstanceManager } from '../manager';

/** One entry of volatile.last_state.idmap (Incus's JSON idmap form). */
interface IdmapEntry {
  Isuid?: boolean;
  Isgid?: boolean;
  Hostid?: number;
  Nsid?: number;
  Maprange?: number;
}

/** uid_map / gid_map text for a shifted rootfs, from volatile.last_state.idmap. */
export function mapLines(json: string): { uidmap: string; gidmap: string } | null {
  let entries: IdmapEntry[];
  try {
    entries = JSON.parse(json) as IdmapEntry[];
  } catch {
    return null;
  }
  if (!Array.isArray(entries) || entries.length === 0) return null;
  const line = (e: IdmapEntry): string => `${e.Nsid ?? 0} ${e.Hostid ?? 0} ${e.Maprange ?? 0}`;
  const uid = entries.filter((e) => e.Isuid).map(line);
  const gid = entries.filter((e) => e.Isgid).map(line);
  if (uid.length === 0 || gid.length === 0) return null;
  return { uidmap: uid.join('\n'), gidmap: gid.join('\n') };
}

/** What opening a session needs from the daemon. */
export interface FileSessionDeps {
  instances: InstanceManager;
  driver: InstanceDriver;
}

/** Starts a helper inside `rec` (running or stopped); the caller closes the session. */
export async function openInstanceFiles(deps: FileSessionDeps, rec: InstanceRecord): Promise<FileSession> {
  const m = deps.instances;
  return m.locks.with(m.lockKey(rec), async () => {
    const fresh = m.get(rec.project, rec.name);
    const [st] = await deps.driver.states([fresh]);
    let target: ForkfileTarget;
    if (st.pid > 0) {
      target = { pid: st.pid };
    } else {
      const rt = m.runtime(fresh);
      target = { rootfs: join(rt.volumePath, 'rootfs') };
      if (!rt.idmappedRootfs) {
        const maps = mapLines(fresh.config['volatile.last_state.idmap'] ?? '');
        if (!maps) throw new StatusError(500, `Instance "${rec.name}" has an unreadable volatile.last_state.idmap`);
        target = { ...target, ...maps };
      }
    }
    try {
      return await FileSession.open(target, { instance: rec.name });
    } catch (err) {
      throw new StatusError(500, `Failed getting instance file access: ${(err as Error).message}`);
    }
  });
}
