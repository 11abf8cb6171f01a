/**
 * Instances at daemon start and `admin shutdown`: autostart in order of
 * boot.autostart.priority (highest first) with boot.autostart.delay after
 * each; shutdown in groups of boot.stop.priority (highest first), each group
 * in parallel, each instance allowed boot.host_shutdown_timeout seconds.
 */
import type { InstanceRecord } from '../db/instances';
import type { Logger } from '../log';
import { isTrue } from './config-keys';
import type { InstanceManager } from './manager';
import type { StateActions } from './state-actions';
import { instanceEntityUrl } from '../warnings/instance-warnings';
import { WarningType } from '../warnings/types';
import type { Warnings } from '../warnings/warnings';

const DEFAULT_SHUTDOWN_TIMEOUT = 30;

/** Starts what should run: boot.autostart, or (unset) what ran before the host went down. */
export async function autostartInstances(m: InstanceManager, actions: StateActions, log: Logger, warnings?: Warnings): Promise<void> {
  const recs = await m.deps.db.instances.listLocal(null);
  const states = await m.deps.drivers.states(recs);
  const todo: { rec: InstanceRecord; priority: number; delay: number }[] = [];
  let running = 0;
  const alreadyRunning: InstanceRecord[] = [];
  const profiles = await m.profileLookup(recs.map((r) => r.project));
  recs.forEach((rec, i) => {
    if (states[i].pid > 0) {
      running++;
      alreadyRunning.push(rec);
      return;
    }
    let cfg: Record<string, string>;
    try {
      cfg = m.expandWith(rec, profiles).expanded_config;
    } catch {
      return;
    }
    const auto = cfg['boot.autostart'];
    const wanted = auto !== undefined && auto !== '' ? isTrue(auto) : rec.config['volatile.last_state.power'] === 'RUNNING';
    if (wanted) todo.push({ rec, priority: Number(cfg['boot.autostart.priority'] ?? 0), delay: Number(cfg['boot.autostart.delay'] ?? 0) });
  });
  log.info('Instances re-discovered', { running: String(running), total: String(recs.length), to_start: String(todo.length) });
  // Devices: the helpers of instances that kept running (proxy relays) are re-adopted or restarted.
  for (const rec of alreadyRunning) {
    try {
      await m.deps.drivers.of(rec.type).resumeDevices?.(await m.runtime(rec, profiles));
    } catch (err) {
      log.warn('Failed to resume devices', { instance: rec.name, err: (err as Error).message });
    }
  }
  todo.sort((a, b) => b.priority - a.priority);
  for (const { rec, delay } of todo) {
    try {
      await actions.apply(rec, { action: 'start' });
    } catch (err) {
      log.warn('Failed to auto-start instance', { instance: rec.name, err: (err as Error).message });
      await warnings?.raise(WarningType.InstanceAutostartFailure, `Failed to autostart instance "${rec.name}": ${(err as Error).message}`, {
        project: rec.project,
        entityUrl: instanceEntityUrl(rec),
      });
    }
    if (delay > 0) await new Promise((r) => setTimeout(r, delay * 1000));
  }
}

/** Stops every running instance cleanly, highest boot.stop.priority first. */
export async function shutdownInstances(m: InstanceManager, log: Logger): Promise<void> {
  const recs = await m.deps.db.instances.listLocal(null);
  const states = await m.deps.drivers.states(recs);
  const groups = new Map<number, InstanceRecord[]>();
  const profiles = await m.profileLookup(recs.map((r) => r.project));
  recs.forEach((rec, i) => {
    if (states[i].pid <= 0) return;
    let p = 0;
    try {
      p = Number(m.expandWith(rec, profiles).expanded_config['boot.stop.priority'] ?? 0);
    } catch {
      // A profile gone since: default priority.
    }
    groups.set(p, [...(groups.get(p) ?? []), rec]);
  });
  for (const p of [...groups.keys()].sort((a, b) => b - a)) {
    await Promise.all(
      (groups.get(p) ?? []).map(async (rec) => {
        const cfg = m.expandWith(rec, profiles).expanded_config;
        const timeout = Number(cfg['boot.host_shutdown_timeout'] || DEFAULT_SHUTDOWN_TIMEOUT);
        try {
          await m.deps.drivers.of(rec.type).stop(await m.runtime(rec, profiles), { force: false, timeoutSec: timeout });
        } catch (err) {
          log.warn('Failed to stop instance at shutdown', { instance: rec.name, err: (err as Error).message });
        }
      }),
    );
  }
}
