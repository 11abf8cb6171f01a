/**
 * Instances that stop on their own: init exits, is killed, or the guest
 * powers off. Each running instance's init is watched through a pidfd
 * (polled on the event loop). When it exits and the daemon did not stop it
 * (the recorded power state still says RUNNING once the instance's lock is
 * free, and nothing started it again), the instance is shut down as Incus
 * does after an instance-initiated stop: restarted when boot.autorestart
 * allows (at most 10 times a minute), else recorded as stopped, announced,
 * and deleted when ephemeral.
 */
import type { InstanceRecord } from '../db/instances';
import type { Logger } from '../log';
import type { EventBus } from '../operations/event-bus';
import { watchPid } from '../../native/pidfd';
import { isTrue } from './config-keys';
import type { InstanceManager } from './manager';
import type { StateActions } from './state-actions';

/** Incus's auto-restart budget: this many restarts within the window, then the instance stays down. */
const RESTARTS_PER_WINDOW = 10;
const RESTART_WINDOW_MS = 60_000;

export class ExitWatcher {
  /** Instance key to the init pid being watched. */
  private readonly watched = new Map<string, number>();
  /** Instance key to the times of its recent auto-restarts. */
  private readonly restarts = new Map<string, number[]>();
  private stopped = false;

  constructor(
    private readonly m: InstanceManager,
    private readonly actions: StateActions,
    private readonly log: Logger,
    /** True while exits are expected and left alone (the member is being evacuated). */
    private readonly paused: () => boolean = () => false,
  ) {}

  /** Watches every instance started from now on; `track` adds those already running. */
  follow(events: EventBus): void {
    events.subscribe(['lifecycle'], null, (ev) => {
      const md = ev.metadata as { action?: string; source?: string };
      const path = md.source?.split('?')[0] ?? '';
      if (md.action !== 'instance-started' || !path.startsWith('/1.0/instances/')) return;
      const name = decodeURIComponent(path.slice('/1.0/instances/'.length));
      void this.m.deps.db.instances.get(ev.project ?? 'default', name).then((rec) => rec && this.track([rec]), (err: unknown) => this.failed(name, err));
    });
  }

  /** Watches the init of each of recs that runs now. */
  async track(recs: readonly InstanceRecord[]): Promise<void> {
    if (this.stopped || recs.length === 0) return;
    const states = await this.m.deps.drivers.states(recs);
    recs.forEach((rec, i) => {
      const pid = states[i].pid;
      const key = this.m.lockKey(rec);
      if (pid <= 0 || this.watched.get(key) === pid) return;
      const exited = watchPid(pid);
      if (!exited) return;
      this.watched.set(key, pid);
      exited.then(
        () => this.exited(rec, key, pid),
        (err: unknown) => this.failed(rec.name, err),
      );
    });
  }

  /** Stops reacting to exits: the daemon is stopping every instance (admin shutdown) or closing. */
  stop(): void {
    this.stopped = true;
  }

  private failed(name: string, err: unknown): void {
    this.log.warn('Failed to watch instance exit', { instance: name, err: String(err) });
  }

  private async exited(rec: InstanceRecord, key: string, pid: number): Promise<void> {
    if (this.watched.get(key) === pid) this.watched.delete(key);
    if (this.stopped || this.paused()) return;
    try {
      // A stop or restart the daemon runs holds the lock; once it is free the state says who stopped it.
      await this.m.locks.with(key, async () => {
        if (this.stopped) return;
        const fresh = await this.m.deps.db.instances.get(rec.project, rec.name);
        if (!fresh || fresh.id !== rec.id || fresh.config['volatile.last_state.power'] !== 'RUNNING') return;
        const [st] = await this.m.deps.drivers.states([fresh]);
        if (st.pid > 0) return;
        await this.onInstanceStop(fresh, key);
      });
    } catch (err) {
      this.log.warn('Failed to handle instance exit', { instance: rec.name, err: String(err) });
    }
  }

  private async onInstanceStop(rec: InstanceRecord, key: string): Promise<void> {
    const cfg = (await this.m.expand(rec)).expanded_config;
    if (isTrue(cfg['boot.autorestart']) && this.mayRestart(key)) {
      this.log.info('Restarting instance after an unexpected exit', { instance: rec.name, project: rec.project });
      await this.actions.start(rec);
      return;
    }
    await this.m.setVolatile(rec, 'volatile.last_state.power', 'STOPPED');
    this.m.deps.events.lifecycle('instance-shutdown', `/1.0/instances/${rec.name}`, rec.project);
    if (rec.ephemeral) await this.m.delete(await this.m.get(rec.project, rec.name));
  }

  /** Records a restart when the budget allows one. */
  private mayRestart(key: string): boolean {
    const now = Date.now();
    const recent = (this.restarts.get(key) ?? []).filter((t) => t > now - RESTART_WINDOW_MS);
    if (recent.length >= RESTARTS_PER_WINDOW) {
      this.restarts.set(key, recent);
      return false;
    }
    recent.push(now);
    this.restarts.set(key, recent);
    return true;
  }
}
