/**
 * What a project holds, as the URLs of `used_by` (Incus's projectUsedBy):
 * instances, images, networks, profiles and custom storage volumes. A
 * project holding only its `default` profile counts as empty.
 */
import type { Queries } from '../db';
import { DEFAULT_PROJECT } from './features';

/** `?project=NAME` for URLs outside the default project. */
export const projectSuffix = (project: string): string => (project === DEFAULT_PROJECT ? '' : `?project=${encodeURIComponent(project)}`);

export async function projectUsedBy(db: Queries, project: string): Promise<string[]> {
  const q = projectSuffix(project);
  const out: string[] = [];
  for (const i of await db.instances.list(project)) out.push(`/1.0/instances/${encodeURIComponent(i.name)}${q}`);
  for (const i of await db.images.list(project)) out.push(`/1.0/images/${i.fingerprint}${q}`);
  for (const n of await db.networks.list(project)) out.push(`/1.0/networks/${encodeURIComponent(n.name)}${q}`);
  for (const p of await db.profiles.list(project)) out.push(`/1.0/profiles/${encodeURIComponent(p.name)}${q}`);
  for (const pool of await db.pools.list()) {
    for (const v of await db.pools.volumes(pool.name)) {
      if (v.project !== project || v.type !== 'custom') continue;
      out.push(`/1.0/storage-pools/${encodeURIComponent(pool.name)}/volumes/custom/${encodeURIComponent(v.name)}${q}`);
    }
  }
  return out;
}

/** used_by minus the project's own default profile: empty means the project can be deleted or renamed. */
export async function projectContents(db: Queries, project: string): Promise<string[]> {
  const own = `/1.0/profiles/default${projectSuffix(project)}`;
  return (await projectUsedBy(db, project)).filter((u) => u !== own);
}
