/** In-process event bus behind `/1.0/events`: operation, lifecycle and logging events. */
import type { Event, EventType, LifecycleEvent } from '../../api/event';

export type Listener = (ev: Event) => void;

interface Subscription {
  types: Set<EventType>;
  project: string | null;
  listener: Listener;
}

export class EventBus {
  private readonly subs = new Set<Subscription>();

  constructor(private location = 'none') {}

  /** Where events come from: the member's name once clustered (Incus's SetLocalLocation). */
  setLocation(name: string): void {
    this.location = name;
  }

  /** Subscribes to the given types; project null = all projects. Returns the unsubscribe function. */
  subscribe(types: EventType[], project: string | null, listener: Listener): () => void {
    const sub: Subscription = { types: new Set(types), project, listener };
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  get listenerCount(): number {
    return this.subs.size;
  }

  emit(type: EventType, metadata: unknown, project = 'default'): void {
    if (this.subs.size === 0) return;
    const ev: Event = { type, timestamp: new Date().toISOString(), metadata, location: this.location, project };
    for (const s of this.subs) {
      if (!s.types.has(type)) continue;
      if (s.project !== null && s.project !== project) continue;
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
