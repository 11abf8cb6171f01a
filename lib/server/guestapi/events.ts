/**
 * `/dev/incus/sock` `/1.0/events`: `config` (a `user.*` key changed) and
 * `device` (added, updated, removed) events for one instance. The expanded
 * config and devices are remembered while the instance has listeners and
 * compared again after each `instance-updated` or `profile-updated`.
 */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import type { DevIncusConfigEvent, DevIncusDeviceEvent } from '../../api/dev-incus';
import type { LifecycleEvent } from '../../api/event';
import type { InstanceRecord } from '../db/instances';
import type { DaemonState } from '../state';

/** One connected listener: the event types it asked for and where its events go. */
export interface GuestEventSink {
  types: ReadonlySet<string>;
  send(line: string): void;
  close(): void;
}

interface Watched {
  config: ConfigMap;
  devices: DevicesMap;
  sinks: Set<GuestEventSink>;
}

type Message = { type: 'config'; metadata: DevIncusConfigEvent } | { type: 'device'; metadata: DevIncusDeviceEvent };

/** The changes between two expansions, in Incus's order (config, then removed, updated, added devices). */
export function guestChanges(before: Pick<Watched, 'config' | 'devices'>, after: Pick<Watched, 'config' | 'devices'>): Message[] {
  const out: Message[] = [];
  const keys = [...new Set([...Object.keys(before.config), ...Object.keys(after.config)])].sort();
  for (const key of keys) {
    if (!key.startsWith('user.') || before.config[key] === after.config[key]) continue;
    out.push({ type: 'config', metadata: { key, old_value: before.config[key] ?? '', value: after.config[key] ?? '' } });
  }
  const device = (action: DevIncusDeviceEvent['action'], name: string, config: Record<string, string>): Message => ({
    type: 'device',
    metadata: { action, name, config },
  });
  for (const [name, config] of Object.entries(before.devices)) {
    if (!(name in after.devices)) out.push(device('removed', name, config));
  }
  for (const [name, config] of Object.entries(after.devices)) {
    if (name in before.devices && JSON.stringify(before.devices[name]) !== JSON.stringify(config)) out.push(device('updated', name, config));
  }
  for (const [name, config] of Object.entries(after.devices)) {
    if (!(name in before.devices)) out.push(device('added', name, config));
  }
  return out;
}

/** Guest API event listeners, by instance id. */
export class GuestEvents {
  private readonly watched = new Map<number, Watched>();
  private unsubscribe: (() => void) | null = null;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly s: DaemonState) {}

  start(): void {
    this.unsubscribe = this.s.events.subscribe(['lifecycle'], null, (ev) => {
      const action = (ev.metadata as LifecycleEvent).action;
      if (action === 'instance-updated' || action === 'profile-updated' || action === 'instance-deleted') {
        // One refresh at a time, in event order; a failed read leaves the stored expansions as they were.
        this.refreshing = this.refreshing.then(() => this.refresh()).catch(() => undefined);
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const w of this.watched.values()) for (const sink of w.sinks) sink.close();
    this.watched.clear();
  }

  /** Adds a listener for `rec`'s events; resolves with its removal. */
  async add(rec: InstanceRecord, sink: GuestEventSink): Promise<() => void> {
    let w = this.watched.get(rec.id);
    if (!w) {
      const e = await this.s.instances.expand(rec);
      // Another listener of the instance may have been added meanwhile.
      w = this.watched.get(rec.id) ?? { config: e.expanded_config, devices: e.expanded_devices, sinks: new Set() };
      this.watched.set(rec.id, w);
    }
    w.sinks.add(sink);
    return () => {
      const cur = this.watched.get(rec.id);
      if (!cur) return;
      cur.sinks.delete(sink);
      if (cur.sinks.size === 0) this.watched.delete(rec.id);
    };
  }

  /** Compares every watched instance with its stored expansion and sends what changed. */
  private async refresh(): Promise<void> {
    if (this.watched.size === 0) return;
    const recs = new Map((await this.s.db.instances.listLocal(null)).map((r) => [r.id, r]));
    const projects = [...this.watched.keys()].map((id) => recs.get(id)?.project).filter((p): p is string => p !== undefined);
    const profiles = await this.s.instances.profileLookup(projects);
    for (const [id, w] of this.watched) {
      const rec = recs.get(id);
      if (!rec) {
        for (const sink of w.sinks) sink.close();
        this.watched.delete(id);
        continue;
      }
      let e;
      try {
        e = this.s.instances.expandWith(rec, profiles);
      } catch {
        continue;
      }
      const after = { config: e.expanded_config, devices: e.expanded_devices };
      const messages = guestChanges(w, after);
      w.config = after.config;
      w.devices = after.devices;
      for (const m of messages) {
        const line = JSON.stringify({ type: m.type, timestamp: new Date().toISOString(), metadata: m.metadata });
        for (const sink of w.sinks) if (sink.types.has(m.type)) sink.send(line);
      }
    }
  }
}
