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
 * `cluster.evacuate` (default auto: moved unless a device ties it to this
 * host). Moved instances go, stopped, to the least busy other member (see
 * move.ts; no live migration here, so the live modes move them stopped)
 * and start there if they ran; `volatile.evacuate.origin` names this member,
 * and `restore` brings them back. With no member to take one, it is
 * stopped in place, as Incus does.
 */
import type { InstanceRecord } from '../db/instances';
import { badRequest } from '../errors';
import type { DaemonState } from '../state';
import { memberRequest, metadataOf } from './member-client';
import { FORWARDED_HEADER } from './member-proxy';
import { moveInstanceToMember, startOnMember, waitMemberOperation } from './move';
import { MEMBER_STATE } from './member-state';
import { pickMember } from './placement';

/** What `cluster.evacuate` and the request's mode may say. */
export const EVACUATE_MODES: ReadonlySet<string> = new Set(['auto', 'live-migrate', 'refresh-migrate', 'migrate', 'stop', 'stateful-stop', 'force-stop']);

/** Checks an evacuation request's mode before the operation starts (Incus's validator words). */
export function checkEvacuateMode(mode: string): void {
  if (mode !== '' && !EVACUATE_MODES.has(mode)) throw badRequest(`Invalid value "${mode}" (not one of [${[...EVACUATE_MODES].join(' ')}])`);
}

/** Default stop timeout of an evacuation (Incus's 5 minutes for a clean shutdown). */
const STOP_TIMEOUT_SEC = 300;

/** Device types that tie an instance to this host: an evacuation in auto mode stops it rather than moving it. */
const PINNING_DEVICES = new Set(['unix-char', 'unix-block', 'unix-hotplug', 'usb', 'gpu', 'pci', 'infiniband', 'tpm']);

/** What auto means for an instance (Incus's CanMigrate): move it unless a device keeps it here. */
function autoAction(devices: Record<string, Record<string, string>>): string {
  for (const d of Object.values(devices)) {
    if (PINNING_DEVICES.has(d.type ?? '')) return 'stop';
    // A host path can only be reached here; a pool volume or the root disk moves with the instance.
    if (d.type === 'disk' && d.path !== '/' && !d.pool && (d.source ?? '').startsWith('/')) return 'stop';
  }
  return 'migrate';
}

/** Stops or moves this member's instances and marks it evacuated. */
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
      const running = states[i]!.pid > 0;
      const expanded = m.expandWith(rec, profiles);
      let action = mode !== '' && mode !== 'auto' ? mode : (expanded.expanded_config['cluster.evacuate'] ?? 'auto');
      if (action === 'auto') action = autoAction(expanded.expanded_devices);
      if (action === 'live-migrate' || action === 'refresh-migrate') action = 'migrate';
      s.log.info('Evacuating instance', { instance: rec.name, project: rec.project, action });
      if (running) {
        progress(`Stopping "${rec.name}" in project "${rec.project}"`);
        await stopKeepingPower(s, rec, action === 'force-stop');
      }
      if (action !== 'migrate') continue;
      const target = await pickMember(s.db, { exclude: [s.db.node.id] }).catch(() => null);
      if (!target) {
        s.log.warn('No migration target available for instance, stopping it in place', { instance: rec.name, project: rec.project });
        continue;
      }
      progress(`Migrating "${rec.name}" in project "${rec.project}" to "${target.name}"`);
      if (!rec.config['volatile.evacuate.origin']) await m.setVolatile(rec, 'volatile.evacuate.origin', self);
      await moveInstanceToMember(s, await m.get(rec.project, rec.name), target);
      if (running || rec.config['volatile.last_state.power'] === 'RUNNING') await startOnMember(s, rec, target);
    }
  } catch (err) {
    await s.db.members.setState(self, MEMBER_STATE.created);
    s.cluster.maintenance = false;
    throw err;
  }
  await s.db.members.setState(self, MEMBER_STATE.evacuated);
  s.events.lifecycle('cluster-member-evacuated', `/1.0/cluster/members/${encodeURIComponent(self)}`);
}

/** Starts again the instances the evacuation stopped, brings back those it moved, and puts the member back in service. */
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
    const moved = (await s.db.instances.list(null)).filter((r) => !r.local && r.config['volatile.evacuate.origin'] === self);
    for (const rec of moved) {
      progress(`Migrating "${rec.name}" in project "${rec.project}" from "${rec.location}"`);
      const holder = await s.db.members.get(rec.location);
      if (!holder) continue;
      const cert = s.cluster.certificate!;
      const reply = await memberRequest(holder.address, cert, cert.certPem, 'POST', '/internal/cluster/instances/move-out', { project: rec.project, name: rec.name, target: self }, { [FORWARDED_HEADER]: '1' });
      const done = await waitMemberOperation(s, holder, metadataOf<{ id: string }>(reply).id, `Failed to migrate instance "${rec.name}" back`);
      const back = await s.instances.get(rec.project, rec.name);
      await s.instances.unsetVolatile(back, 'volatile.evacuate.origin');
      if ((done.metadata as { running?: boolean } | null)?.running) await s.actions.apply(await s.instances.get(rec.project, rec.name), { action: 'start' });
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
