/**
 * Warnings tied to an instance: an autostart failure is resolved once the
 * instance starts, and an instance's warnings go with it when it is
 * deleted (as Incus does for the entities it deletes).
 */
import type { EventBus } from '../operations/event-bus';
import { WarningType } from './types';
import type { Warnings } from './warnings';

/** The entity URL Incus gives an instance's warnings (`?project=` outside default). */
export function instanceEntityUrl(rec: { name: string; project: string }): string {
  const url = `/1.0/instances/${rec.name}`;
  return rec.project === 'default' ? url : `${url}?project=${rec.project}`;
}

export function trackInstanceWarnings(w: Warnings, events: EventBus): void {
  events.subscribe(['lifecycle'], null, (ev) => {
    const md = ev.metadata as { action?: string; source?: string };
    if (md.action === 'instance-started') w.resolve({ type: WarningType.InstanceAutostartFailure, project: ev.project, entityUrl: md.source });
    else if (md.action === 'instance-deleted') w.forget({ project: ev.project, entityUrl: md.source });
  });
}
