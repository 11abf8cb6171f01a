/**
 * `backup.yaml` at the root of each instance volume, as Incus keeps it: the
 * instance, its snapshots, pool and volume, rewritten after every change so
 * that `incus admin recover` can rebuild lost database rows from disk.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LifecycleEvent } from '../../api/event';
import type { InstanceRecord } from '../db/instances';
import type { EventBus } from '../operations/event-bus';
import { storageName } from '../storage/volume-names';
import type { BackupManager } from './backups';
import type { InstanceManager } from './manager';

/** Writes the volume's backup.yaml from the current rows. */
export async function writeBackupYaml(m: InstanceManager, backups: BackupManager, rec: InstanceRecord): Promise<void> {
  const vol = await m.deps.pools.volumeOf(rec.project, rec.type, rec.name);
  if (!vol) return;
  const pool = await m.deps.pools.get(vol.pool);
  const idx = await backups.index(rec, await m.deps.db.snapshots.names(rec.id));
  const path = join(m.deps.pools.volumePath(pool, rec.type, storageName(rec.project, rec.name)), 'backup.yaml');
  await writeFile(path, stringify(idx.config), { mode: 0o600 });
}

const ACTIONS = /^instance-(created|updated|renamed|restored|snapshot-(created|deleted|renamed|updated))$/;

/** Keeps backup.yaml current by following lifecycle events; returns the unsubscribe function. */
export function followBackupYaml(events: EventBus, m: InstanceManager, backups: BackupManager): () => void {
  return events.subscribe(['lifecycle'], null, (ev) => {
    const md = ev.metadata as LifecycleEvent;
    if (!ACTIONS.test(md.action)) return;
    const name = decodeURIComponent(md.source.split('?')[0].split('/')[3] ?? '');
    void (async () => {
      const rec = await m.deps.db.instances.get(md.project || 'default', name);
      if (rec) await writeBackupYaml(m, backups, rec);
    })().catch(() => undefined);
  });
}
