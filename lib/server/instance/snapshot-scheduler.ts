/**
 * Scheduled snapshots and expiry: once a minute, every instance whose
 * `snapshots.schedule` fires in that minute gets a snapshot named by
 * `snapshots.pattern` and dated by `snapshots.expiry` (stopped instances only
 * with `snapshots.schedule.stopped=true`), then expired snapshots are pruned.
 * The clock is injected so tests can drive `tick()` at chosen times.
 */
import { isTrue } from './config-keys';
import type { InstanceManager } from './manager';
import { parseSchedule } from './snapshot-schedule';
import type { SnapshotManager } from './snapshots';

/** Where the scheduler reports what went wrong (the daemon's Logger fits). */
export interface SchedulerLog {
  warn(message: string, context?: Record<string, string>): void;
}

export interface TickResult {
  /** `instance/snapshot` for each snapshot taken. */
  created: string[];
  /** `instance/snapshot` for each snapshot pruned. */
  pruned: string[];
}

export class SnapshotScheduler {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly m: InstanceManager,
    private readonly snaps: SnapshotManager,
    private readonly log: SchedulerLog,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Ticks at the start of every minute until stop(). */
  start(): void {
    const arm = (): void => {
      const now = this.clock();
      const wait = 60_000 - (now.getSeconds() * 1000 + now.getMilliseconds()) + 50;
      this.timer = setTimeout(() => {
        void this.tick(this.clock()).finally(arm);
      }, wait);
      this.timer.unref();
    };
    arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One pass at time `at`: scheduled snapshots for that minute, then pruning of what expired by then. */
  async tick(at: Date): Promise<TickResult> {
    const created = await this.snapshotDue(at);
    const pruned = await this.prune(at);
    return { created, pruned };
  }

  private async snapshotDue(at: Date): Promise<string[]> {
    const { db, drivers } = this.m.deps;
    const all = await db.instances.listLocal(null);
    const profiles = await this.m.profileLookup(all.map((r) => r.project));
    const due = all.filter((rec) => {
      let spec: string | undefined;
      try {
        spec = this.m.expandWith(rec, profiles).expanded_config['snapshots.schedule'];
      } catch {
        return false;
      }
      if (!spec) return false;
      try {
        return parseSchedule(spec, rec.id).matches(at);
      } catch (err) {
        this.log.warn('Invalid snapshots.schedule', { instance: rec.name, err: (err as Error).message });
        return false;
      }
    });
    if (due.length === 0) return [];
    const states = await drivers.states(due);
    const out: string[] = [];
    for (const [i, rec] of due.entries()) {
      const cfg = (await this.m.expand(rec)).expanded_config;
      if (states[i]!.pid <= 0 && !isTrue(cfg['snapshots.schedule.stopped'])) continue;
      try {
        const name = await this.m.locks.with(this.m.lockKey(rec), async () => {
          const fresh = await this.m.get(rec.project,rec.name);
          const plan = await this.snaps.plan(fresh, {}, at);
          await this.snaps.create(fresh, plan, at);
          return plan.name;
        });
        out.push(`${rec.name}/${name}`);
      } catch (err) {
        this.log.warn('Scheduled snapshot failed', { instance: rec.name, err: (err as Error).message });
      }
    }
    return out;
  }

  private async prune(at: Date): Promise<string[]> {
    const out: string[] = [];
    for (const e of await this.m.deps.db.snapshots.expired(at.toISOString())) {
      try {
        await this.m.locks.with(`${e.project}/${e.instance}`, async () => {
          const rec = await this.m.get(e.project,e.instance);
          await this.snaps.delete(rec, await this.snaps.get(rec,e.snapshot));
        });
        out.push(`${e.instance}/${e.snapshot}`);
      } catch (err) {
        this.log.warn('Pruning expired snapshot failed', { instance: e.instance, snapshot: e.snapshot, err: (err as Error).message });
      }
    }
    return out;
  }
}
