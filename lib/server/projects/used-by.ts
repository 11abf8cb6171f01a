/**
 * What a project holds, as the URLs of `used_by` (Incus's projectUsedBy):
 * instances, images, networks, profiles and custom storage volumes. A
 * project holding only its `default` profile counts as empty.
 */
import type { Db } from '../db';
import { DEFAULT_PROJECT } from './features';

/** `?project=NAME` for URLs outside the default project. */
export const projectSuffix = (project: string): string => (project === DEFAULT_PROJECT ? '' : `?project=${encodeURIComponent(project)}`);

export function projectUsedBy(db: Db, project: string): string[] {
  const q = projectSuffix(project);
  const out: string[] = [];
  for (const i of db.instances.list(project)) out.push(`/1.0/instances/${encodeURIComponent(i.name)}${q}`);
  for (const i of db.images.list(project)) out.push(`/1.0/images/${i.fingerprint}${q}`);
  for (const n of db.networks.list(project)) out.push(`/1.0/networks/${encodeURIComponent(n.name)}${q}`);
  for (const p of db.profiles.list(project)) out.push(`/1.0/profiles/${encodeURIComponent(p.name)}${q}`);
  for (const pool of db.pools.list()) {
    for (const v of db.pools.volumes(pool.name)) {
      if (v.project !== project || v.type !== 'custom') continue;
      out.push(`/1.0/storage-pools/${encodeURIComponent(pool.name)}/volumes/custom/${encodeURIComponent(v.name)}${q}`);
    }
  }
  return out;
}

/** used_by minus the project's own default profile: empty means the project can be deleted or renamed. */
export function projectContents(db: Db, project: string): string[] {
  const own = `/1.0/profiles/default${projectSuffix(project)}`;
  return projectUsedBy(db, project).filter((u) => u !== own);
}
