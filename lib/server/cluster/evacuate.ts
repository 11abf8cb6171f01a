/**
 * Evacuating a member for maintenance and restoring it (Incus's
 * evacuateClusterMember and restoreClusterMember), run on the member
 * itself. While it is evacuating, evacuated or restoring, the scheduler
 * places nothing on it, and exits of its instances are not handled as
 * crashes: an instance stopped by the evacuation keeps its recorded power
 * state RUNNING, which is how `restore` knows to start it again (instances
 * the user had stopped stay stopped).
 *
 * Each instance is handled per the request's mode, else its
 * `cluster.evacuate` (default auto). Moving an instance to another member
 * needs a transfer between members that this daemon does not do yet: the
 * migrating modes stop the instance in place, as Incus does when no member
 * can take it.
 */
import type { InstanceRecord } from '../db/instances';
import { badRequest } from '../errors';
import type { DaemonState } from '../state';

/** Incus's cluster member states (nodes.state). */
export const MEMBER_STATE = { created: 0, pending: 1, evacuated: 2, evacuating: 3, restoring: 4 } as const;

/** What `cluster.evacuate` and the request's mode may say. */
export const EVACUATE_MODES: ReadonlySet<string> = new Set(['auto', 'live-migrate', 'refresh-migrate', 'migrate', 'stop', 'stateful-stop', 'force-stop']);

/** Whether a member in `state` is under maintenance (nothing placed on it, exits not handled). */
export function inMaintenance(state: number): boolean {
  return state === MEMBER_STATE.evacuated || state === MEMBER_STATE.evacuating || state === MEMBER_STATE.restoring;
}

/** Checks an evacuation request's mode before the operation starts (Incus's validator words). */
export function checkEvacuateMode(mode: string): void {
  if (mode !== '' && !EVACUATE_MODES.has(mode)) throw badRequest(`Invalid value "${mode}" (not one of [${[...EVACUATE_MODES].join(' ')}])`);
}

/** Default stop timeout of an evacuation (Incus's 5 minutes for a clean shutdown). */
const STOP_TIMEOUT_SEC = 300;

/** Stops this member's running instances and marks it evacuated. */
export async function evacuateMember(s: DaemonState, mode: string, progress: (text: string) => void): Promise<void> {
  const self = s.cluster.serverName;
  await s.db.members.setState(self, MEMBER_STATE.evacuating);
  s.cluster.maintenance = true;
  try {
    const m = s.instances;
    const recs = await s.db.instances.listLocal(null);
    const states = await s.drivers.states(recs);
    const profiles = await m.profileLookup(recs.map((r) => r.project));
    for (const [i, rec] of recs.entries()) {
      if (states[i]!.pid <= 0) continue;
      const action = mode !== '' && mode !== 'auto' ? mode : (m.expandWith(rec, profiles).expanded_config['cluster.evacuate'] ?? 'auto');
      progress(`Stopping "${rec.name}" in project "${rec.project}"`);
      s.log.info('Evacuating instance', { instance: rec.name, project: rec.project, action });
      await stopKeepingPower(s, rec, action === 'force-stop');
    }
  } catch (err) {
    await s.db.members.setState(self, MEMBER_STATE.created);
    s.cluster.maintenance = false;
    throw err;
  }
  await s.db.members.setState(self, MEMBER_STATE.evacuated);
  s.events.lifecycle('cluster-member-evacuated', `/1.0/cluster/members/${encodeURIComponent(self)}`);
}

/** Starts again the instances the evacuation stopped and puts the member back in service. */
export async function restoreMember(s: DaemonState, progress: (text: string) => void): Promise<void> {
  const self = s.cluster.serverName;
  await s.db.members.setState(self, MEMBER_STATE.restoring);
  try {
    await s.networks.startAll();
    const recs = await s.db.instances.listLocal(null);
    const states = await s.drivers.states(recs);
    for (const [i, rec] of recs.entries()) {
      if (rec.config['volatile.last_state.power'] !== 'RUNNING' || states[i]!.pid > 0) continue;
      progress(`Starting "${rec.name}" in project "${rec.project}"`);
      try {
        await s.actions.apply(rec, { action: 'start' });
      } catch (err) {
        throw new Error(`Failed to start instance "${rec.name}": ${(err as Error).message}`);
      }
    }
  } catch (err) {
    await s.db.members.setState(self, MEMBER_STATE.evacuated);
    throw err;
  }
  await s.db.members.setState(self, MEMBER_STATE.created);
  s.cluster.maintenance = false;
  s.events.lifecycle('cluster-member-restored', `/1.0/cluster/members/${encodeURIComponent(self)}`);
}

/** Stops the instance under its lock and leaves volatile.last_state.power as it was (RUNNING). */
async function stopKeepingPower(s: DaemonState, rec: InstanceRecord, force: boolean): Promise<void> {
  const m = s.instances;
  await m.locks.with(m.lockKey(rec), async () => {
    await s.drivers.of(rec.type).stop(await m.runtime(rec), { force, timeoutSec: STOP_TIMEOUT_SEC });
  });
  s.events.lifecycle(force ? 'instance-stopped' : 'instance-shutdown', `/1.0/instances/${rec.name}`, rec.project);
}
