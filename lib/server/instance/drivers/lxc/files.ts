/**
 * File access on a container (InstanceFiles): a forkfile helper inside the
 * namespaces of its init when it runs; in its rootfs otherwise, as Incus
 * does for stopped containers, under the on-disk idmap when the rootfs is
 * shifted.
 */
import { join } from 'node:path';
import { FileSession, type ForkfileTarget } from '../../../../native/forkfile';
import { StatusError } from '../../../errors';
import type { InstanceRuntime, RuntimeState } from '../../interface';

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

/** Starts a helper on the container; the caller closes the session. */
export async function openContainerFiles(inst: InstanceRuntime, st: RuntimeState): Promise<FileSession> {
  let target: ForkfileTarget;
  if (st.pid > 0) {
    target = { pid: st.pid };
  } else {
    target = { rootfs: join(inst.volumePath, 'rootfs') };
    if (!inst.idmappedRootfs) {
      const maps = mapLines(inst.expandedConfig['volatile.last_state.idmap'] ?? '');
      if (!maps) throw new StatusError(500, `Instance "${inst.name}" has an unreadable volatile.last_state.idmap`);
      target = { ...target, ...maps };
    }
  }
  try {
    return await FileSession.open(target, { instance: inst.name });
  } catch (err) {
    throw new StatusError(500, `Failed getting instance file access: ${(err as Error).message}`);
  }
}
