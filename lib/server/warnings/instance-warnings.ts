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
  // One change at a time, in event order (a start and a delete of one instance must not cross).
  let queue = Promise.resolve();
  const later = (fn: () => Promise<void>): void => {
    queue = queue.then(fn).catch((err: unknown) => w.log.warn('Failed to update instance warnings', { err: (err as Error).message }));
  };
  events.subscribe(['lifecycle'], null, (ev) => {
    const md = ev.metadata as { action?: string; source?: string };
    if (md.action === 'instance-started') later(() => w.resolve({ type: WarningType.InstanceAutostartFailure, project: ev.project, entityUrl: md.source }));
    else if (md.action === 'instance-deleted') later(() => w.forget({ project: ev.project, entityUrl: md.source }));
  });
}
