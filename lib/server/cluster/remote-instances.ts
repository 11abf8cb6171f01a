/**
 * The instances of other members in a list (Incus's instancesGet over a
 * cluster): each member that holds some of them is asked, in parallel, for
 * its own (the same request, marked as passed on so that it answers with
 * its local instances only). An instance whose member does not answer is
 * listed from the database with status Error, as Incus lists it.
 */
import type { Instance } from '../../api/instance';
import type { InstanceRecord } from '../db/instances';
import type { InstanceManager } from '../instance/manager';
import { listContext, toInstance } from '../instance/views';
import type { DaemonState } from '../state';
import { FORWARDED_HEADER } from './member-proxy';
import { memberRequest } from './member-client';

/** Incus's api.Error status code. */
const ERROR_CODE = 112;

const keyOf = (project: string, name: string): string => `${project}/${name}`;

/**
 * Views of `recs` (instances of other members) by project/name, fetched with
 * `path` (the list request's path and query, without a filter).
 */
export async function remoteInstanceViews(s: DaemonState, m: InstanceManager, recs: InstanceRecord[], path: string): Promise<Map<string, Instance>> {
  const out = new Map<string, Instance>();
  const byMember = new Map<string, InstanceRecord[]>();
  for (const r of recs) {
    const list = byMember.get(r.location);
    if (list) list.push(r);
    else byMember.set(r.location, [r]);
  }
  const cert = s.cluster.certificate!;
  await Promise.all(
    [...byMember].map(async ([member, mine]) => {
      const address = (await s.db.members.get(member))?.address;
      let views: Instance[] | null = null;
      if (address) {
        const reply = await memberRequest(address, cert, cert.certPem, 'GET', path, undefined, { [FORWARDED_HEADER]: '1' }).catch(() => null);
        if (reply && reply.status === 200 && Array.isArray(reply.body.metadata)) views = reply.body.metadata as Instance[];
      }
      if (views) {
        for (const v of views) out.set(keyOf(v.project, v.name), v);
        return;
      }
      const ctx = await listContext(m, mine, false);
      for (const r of mine) out.set(keyOf(r.project, r.name), toInstance(m, r, unreachable(), ctx));
    }),
  );
  return out;
}

export function viewKey(rec: Pick<InstanceRecord, 'project' | 'name'>): string {
  return keyOf(rec.project, rec.name);
}

function unreachable(): Parameters<typeof toInstance>[2] {
  return { status: 'Error', statusCode: ERROR_CODE, pid: 0, processes: 0, memoryUsage: 0, memoryPeak: 0, swapUsage: 0, swapPeak: 0, cpuUsage: 0 };
}
