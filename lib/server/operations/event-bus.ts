/** In-process event bus behind `/1.0/events`: operation, lifecycle and logging events. */
import type { Event, EventType, LifecycleEvent } from '../../api/event';

export type Listener = (ev: Event) => void;

interface Subscription {
  types: Set<EventType>;
  project: string | null;
  listener: Listener;
  /** Whether it also gets the events other cluster members send (clients do; the daemon's own watchers act on local events only). */
  relayed: boolean;
}

export interface SubscribeOptions {
  /** Also deliver events relayed from other cluster members. */
  relayed?: boolean;
}

export class EventBus {
  private readonly subs = new Set<Subscription>();

  constructor(private location = 'none') {}

  /** Where events come from: the member's name once clustered (Incus's SetLocalLocation). */
  setLocation(name: string): void {
    this.location = name;
  }

  /** Subscribes to the given types; project null = all projects. Returns the unsubscribe function. */
  subscribe(types: EventType[], project: string | null, listener: Listener, opts: SubscribeOptions = {}): () => void {
    const sub: Subscription = { types: new Set(types), project, listener, relayed: opts.relayed ?? false };
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  get listenerCount(): number {
    return this.subs.size;
  }

  emit(type: EventType, metadata: unknown, project = 'default'): void {
    if (this.subs.size === 0) return;
    const ev: Event = { type, timestamp: new Date().toISOString(), metadata, location: this.location, project };
    this.deliver(ev, false);
  }

  /** An event of another cluster member (its location and timestamp kept), for the subscribers that asked for those. */
  relay(ev: Event): void {
    if (this.subs.size > 0) this.deliver(ev, true);
  }

  private deliver(ev: Event, relayed: boolean): void {
    for (const s of this.subs) {
      if (relayed && !s.relayed) continue;
      if (!s.types.has(ev.type)) continue;
      if (s.project !== null && s.project !== ev.project) continue;
      try {
        s.listener(ev);
      } catch {
        this.subs.delete(s);
      }
    }
  }

  /** A lifecycle event such as `instance-started` on `/1.0/instances/c1`. */
  lifecycle(action: string, source: string, project = 'default', context: Record<string, unknown> = {}): void {
    const path = source.split('?')[0];
    // As Incus: a project's entity URL carries `?project=NAME` outside default (a project's own URL does not).
    const scoped = project !== 'default' && path === source && !path.startsWith('/1.0/projects/');
    const url = scoped ? `${source}?project=${encodeURIComponent(project)}` : source;
    const md: LifecycleEvent = { action, source: url, context, project, name: path.split('/').pop() ?? '' };
    this.emit('lifecycle', md, project);
  }
}
