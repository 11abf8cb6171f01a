/**
 * Moving a stopped instance to another cluster member (evacuation in the
 * migrate modes, restore, `move --target`), run on the member that holds
 * it, as Incus moves instances between members: the target opens the
 * receiving end of an instance migration, this member sends the volume and
 * its snapshots over it (the same transfer as between servers), the
 * target takes the instance over (its node in the database), and only then
 * this member drops its own copy. Until the target is done nothing here
 * changes, so a failure leaves the instance where it was.
 */
import type { Operation } from '../../api/operation';
import type { InstanceRecord } from '../db/instances';
import type { MemberRow } from '../db/members';
import { StatusError } from '../errors';
import { detachInstance } from '../instance/links';
import { connsFor } from '../migration/conns';
import { migrateInstanceSource } from '../migration/instance-source';
import type { Report } from '../migration/progress';
import type { DaemonState } from '../state';
import { deleteSnapshotVolumes } from '../storage/snapshot-folders';
import { storageName } from '../storage/volume-names';
import { FORWARDED_HEADER } from './member-proxy';
import { memberRequest, metadataOf } from './member-client';

/** Seconds one wait on the target's operation lasts (the member request itself times out at 30 s). */
const WAIT_STEP_S = 20;

export async function moveInstanceToMember(s: DaemonState, rec: InstanceRecord, target: MemberRow, report?: Report): Promise<void> {
  const cert = s.cluster.certificate;
  if (!cert) throw new Error('This member has no cluster certificate');
  const m = s.instances;
  const [st] = await s.drivers.states([rec]);
  if ((st?.pid ?? 0) > 0) throw new StatusError(400, 'Instance must be stopped to be moved to another member');
  const call = (method: string, path: string, body?: unknown) => memberRequest(target.address, cert, cert.certPem, method, path, body, { [FORWARDED_HEADER]: '1' });

  const op = metadataOf<Operation>(await call('POST', '/internal/cluster/instances/move-in', { project: rec.project, name: rec.name }));
  const conns = connsFor(['control', 'fs'], { operation: `https://${target.address}/1.0/operations/${encodeURIComponent(op.id)}`, certificate: cert.certPem, websockets: op.metadata as Record<string, string> }, s.keypair);
  await m.locks.with(m.lockKey(rec), () => migrateInstanceSource(s, rec, conns, { instanceOnly: false, report }));
  await waitMemberOperation(s, target, op.id, `Failed to move instance "${rec.name}" to "${target.name}"`);
  await dropLocalCopy(s, rec);
}

/** Waits for an operation of another member to end; throws `what` with its error when it failed. */
export async function waitMemberOperation(s: DaemonState, member: MemberRow, id: string, what: string): Promise<Operation> {
  const cert = s.cluster.certificate!;
  for (;;) {
    const reply = await memberRequest(member.address, cert, cert.certPem, 'GET', `/1.0/operations/${encodeURIComponent(id)}/wait?timeout=${WAIT_STEP_S}`, undefined, { [FORWARDED_HEADER]: '1' });
    const done = metadataOf<Operation>(reply);
    if (done.status === 'Success') return done;
    if (done.status === 'Failure' || done.status === 'Cancelled') throw new Error(`${what}: ${done.err || done.status}`);
  }
}

/** Starts an instance on the member that now holds it. */
export async function startOnMember(s: DaemonState, rec: InstanceRecord, member: MemberRow): Promise<void> {
  const cert = s.cluster.certificate!;
  const q = rec.project === 'default' ? '' : `?project=${encodeURIComponent(rec.project)}`;
  const reply = await memberRequest(member.address, cert, cert.certPem, 'PUT', `/1.0/instances/${encodeURIComponent(rec.name)}/state${q}`, { action: 'start' }, { [FORWARDED_HEADER]: '1' });
  const op = metadataOf<{ id: string }>(reply);
  await waitMemberOperation(s, member, op.id, `Failed to start instance "${rec.name}" on "${member.name}"`);
}

/** Removes this member's copy of an instance that now lives on another member (its rows stay). */
async function dropLocalCopy(s: DaemonState, rec: InstanceRecord): Promise<void> {
  const { pools, db } = s;
  await detachInstance(s.instances, rec);
  const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
  if (!vol) return;
  const pool = await pools.get(vol.pool);
  const disk = storageName(rec.project, rec.name);
  await deleteSnapshotVolumes(pools.driver(pool), pools.spec(pool), rec.type, disk, await db.snapshots.names(rec.id));
  await pools.driver(pool).deleteVolume(pools.spec(pool), rec.type, disk);
}
