/**
 * start / stop / restart / freeze / unfreeze of one instance, with the
 * checks and messages Incus gives, and the volatile power state recorded.
 */
import { validateNicsForStart } from './devices/validate';
import type { InstanceStatePut } from '../../api/instance-state';
import { StatusCode } from '../../api/response';
import type { InstanceRecord } from '../db/instances';
import { badRequest } from '../errors';
import type { InstanceManager } from './manager';
import { criuProblem } from './criu';
import type { InstanceRuntime } from './interface';
import { type TemplateTrigger, applyTemplates } from '../images/templates';
import { shiftAttachedVolumes } from './volume-idmap';
import { syncRootfsIdmap } from './rootfs-idmap';

/** Incus's clean-stop timeout, in seconds, when none (-1 or absent) is given: long, yet never forever. */
const DEFAULT_STOP_TIMEOUT = 600;

export class StateActions {
  /** Takes the `@startup` snapshot (the snapshot manager, which itself needs these actions to restore). */
  private startupSnapshot: ((rec: InstanceRecord, expandedConfig: Record<string, string>) => Promise<void>) | null = null;

  constructor(private readonly m: InstanceManager) {}

  useStartupSnapshots(take: (rec: InstanceRecord, expandedConfig: Record<string, string>) => Promise<void>): void {
    this.startupSnapshot = take;
  }

  /** Checks that the action makes sense now; throws the 400 Incus would give. */
  async check(rec: InstanceRecord, req: InstanceStatePut): Promise<void> {
    const [st] = await this.m.deps.drivers.states([rec]);
    const running = st.pid > 0;
    switch (req.action) {
      case 'start':
        if (running) throw badRequest('The instance is already running');
        break;
      case 'stop':
      case 'restart':
        if (!running) throw badRequest('The instance is already stopped');
        if (req.action === 'stop' && req.stateful) throw badRequest((await criuProblem()) ?? 'Stateful stop is not supported yet');
        break;
      case 'freeze':
        if (!running) throw badRequest("The instance isn't running");
        if (st.statusCode === StatusCode.Frozen) throw badRequest('The instance is already frozen');
        break;
      case 'unfreeze':
        if (st.statusCode !== StatusCode.Frozen) throw badRequest("The instance isn't frozen");
        break;
      default:
        throw badRequest(`Unknown action "${String(req.action)}"`);
    }
  }

  /** Performs the action under the instance's lock. */
  async apply(rec: InstanceRecord, req: InstanceStatePut): Promise<void> {
    await this.m.locks.with(this.m.lockKey(rec), async () => {
      const fresh = await this.m.get(rec.project, rec.name);
      switch (req.action) {
        case 'start':
          return this.start(fresh);
        case 'stop':
          return this.stop(fresh, req);
        case 'restart':
          await this.stop(fresh, req, true);
          return this.start(await this.m.get(rec.project,rec.name));
        case 'freeze':
          await this.m.deps.drivers.of(fresh.type).freeze(await this.m.runtime(fresh));
          this.m.deps.events.lifecycle('instance-paused', `/1.0/instances/${fresh.name}`, fresh.project);
          return;
        case 'unfreeze':
          await this.m.deps.drivers.of(fresh.type).unfreeze(await this.m.runtime(fresh));
          this.m.deps.events.lifecycle('instance-resumed', `/1.0/instances/${fresh.name}`, fresh.project);
          return;
      }
    });
  }

  async start(rec: InstanceRecord): Promise<void> {
    const [st] = await this.m.deps.drivers.states([rec]);
    if (st.pid > 0) throw badRequest('The instance is already running');
    const fresh = await syncRootfsIdmap(this.m, await this.m.refreshIdmap(await this.m.recordNicVolatile(rec)));
    const rt = await this.m.runtime(fresh);
    await validateNicsForStart(this.m.deps, fresh, rt.expandedDevices);
    await this.renderTemplates(fresh, rt);
    await shiftAttachedVolumes(this.m, rt, rt.expandedDevices);
    await this.startupSnapshot?.(fresh, rt.expandedConfig);
    await this.m.deps.drivers.of(rt.type).start(rt);
    await this.m.setVolatile(rec, 'volatile.last_state.power', 'RUNNING');
    await this.m.deps.db.instances.touch(rec.id, new Date().toISOString());
    this.m.deps.events.lifecycle('instance-started', `/1.0/instances/${rec.name}`, rec.project);
  }

  /** Pending create/copy/rename templates, then the start ones, written into the rootfs. */
  private async renderTemplates(rec: InstanceRecord, rt: InstanceRuntime): Promise<void> {
    const inst = {
      name: rec.name,
      architecture: rec.architecture,
      privileged: rt.idmap === null,
      ephemeral: rec.ephemeral,
      config: rt.expandedConfig,
      devices: rt.expandedDevices,
    };
    const offset = rt.idmap !== null && !rt.idmappedRootfs ? (rt.idmap[0]?.hostId ?? 0) : 0;
    const pending = rec.config['volatile.apply_template'] as TemplateTrigger | undefined;
    if (pending) {
      await applyTemplates(rt.volumePath, pending, inst, offset);
      await this.m.unsetVolatile(rec, 'volatile.apply_template');
    }
    await applyTemplates(rt.volumePath, 'start', inst, offset);
  }

  private async stop(rec: InstanceRecord, req: InstanceStatePut, restarting = false): Promise<void> {
    // As Incus: force or a zero timeout kill at once; a clean stop that
    // times out fails and leaves the instance running.
    const force = req.force === true || req.timeout === 0;
    const timeoutSec = req.timeout === undefined || req.timeout < 0 ? DEFAULT_STOP_TIMEOUT : req.timeout;
    await this.m.deps.drivers.of(rec.type).stop(await this.m.runtime(rec), { force, timeoutSec, keepRunningOnTimeout: true });
    await this.m.setVolatile(rec, 'volatile.last_state.power', 'STOPPED');
    const ev = force ? 'instance-stopped' : 'instance-shutdown';
    this.m.deps.events.lifecycle(restarting ? 'instance-restarted' : ev, `/1.0/instances/${rec.name}`, rec.project);
    if (rec.ephemeral && !restarting) await this.m.delete(await this.m.get(rec.project,rec.name));
  }
}
