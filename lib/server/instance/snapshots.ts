/**
 * Instance snapshots: take, list, rename, re-date, delete and restore, keeping
 * the snapshot rows (with the config and devices of the moment) and the
 * storage driver's snapshot volumes in step. Callers hold the instance lock.
 */
import { randomUUID } from 'node:crypto';
import { goRfc3339Nano, parseRfc3339 } from '../../api/go-time';
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import type { InstanceRecord } from '../db/instances';
import { NO_EXPIRY, type SnapshotRecord } from '../db/snapshots';
import { badRequest, conflict, notFound, StatusError } from '../errors';
import type { PoolSpec, StorageDriver } from '../storage/interface';
import { storageName } from '../storage/volume-names';
import { criuProblem } from './criu';
import type { InstanceManager } from './manager';
import { allowSnapshotCreation } from '../projects/permissions';
import type { StateActions } from './state-actions';
import { expiryFrom, nextSnapshotName } from './snapshot-names';
import { snapshotToApi } from './snapshot-views';
import { validateInstanceSnapshotName } from '../names';
import { syncInstanceSnapshotLink } from './links';

/** What a new snapshot is asked to be; a missing name comes from `snapshots.pattern`. */
export interface SnapshotRequest {
  name?: string;
  stateful?: boolean;
  /** ISO time; undefined/null: from `snapshots.expiry`. */
  expiresAt?: string | null;
}

/** Checks an instance snapshot name (Incus: IsAPIName, "Invalid snapshot name: ..."). */
export const validateSnapshotName = validateInstanceSnapshotName;

/**
 * An expiry from a request as Incus keeps it: RFC 3339 text in Go's form,
 * with the offset it was given (`config get --property` shows that zone);
 * other dates JavaScript reads become ISO UTC. '' and Go's zero time mean no
 * expiry.
 */
export function normaliseExpiry(text: string | null | undefined): string {
  if (!text || text.startsWith('0001-01-01')) return NO_EXPIRY;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw badRequest(`Invalid expires_at "${text}"`);
  return parseRfc3339(text) ? goRfc3339Nano(text) : new Date(t).toISOString();
}

export class SnapshotManager {
  constructor(
    private readonly m: InstanceManager,
    private readonly actions: StateActions,
  ) {}

  async list(rec: InstanceRecord): Promise<SnapshotRecord[]> {
    return this.m.deps.db.snapshots.list(rec.id);
  }

  /** The snapshot, or a 404. */
  async get(rec: InstanceRecord, name: string): Promise<SnapshotRecord> {
    const s = await this.m.deps.db.snapshots.get(rec.id, name);
    if (!s) throw notFound('Snapshot not found');
    return s;
  }

  async toApi(rec: InstanceRecord, s: SnapshotRecord): Promise<InstanceSnapshot> {
    return snapshotToApi(this.m, rec, s, await this.m.profileLookup([rec.project]));
  }

  /** Several snapshots of one instance, the profiles read once. */
  async toApiAll(rec: InstanceRecord, list: readonly SnapshotRecord[]): Promise<InstanceSnapshot[]> {
    const profiles = await this.m.profileLookup([rec.project]);
    return list.map((s) => snapshotToApi(this.m, rec, s, profiles));
  }

  /**
   * Validates a request before its operation starts and fills in the name and
   * expiry; answers 400 (bad name, bad expiry, stateful without a working
   * CRIU) or 409 (name taken).
   */
  async plan(rec: InstanceRecord, req: SnapshotRequest, now = new Date()): Promise<{ name: string; expiresAt: string; stateful: boolean }> {
    await allowSnapshotCreation(this.m.deps.db, rec.project);
    const cfg = (await this.m.expand(rec)).expanded_config;
    const taken = await this.m.deps.db.snapshots.names(rec.id);
    let name = req.name;
    if (!name) {
      try {
        name = nextSnapshotName(cfg['snapshots.pattern'] || 'snap%d', taken, now);
      } catch (err) {
        throw badRequest((err as Error).message);
      }
    }
    validateSnapshotName(name);
    if (taken.includes(name)) throw conflict(`Snapshot "${name}" already exists`);
    let expiresAt: string;
    if (req.expiresAt !== undefined && req.expiresAt !== null) expiresAt = normaliseExpiry(req.expiresAt);
    else {
      try {
        const d = expiryFrom(now, cfg['snapshots.expiry.manual'] || cfg['snapshots.expiry'] || '');
        expiresAt = d ? d.toISOString() : NO_EXPIRY;
      } catch (err) {
        throw badRequest((err as Error).message);
      }
    }
    const stateful = req.stateful === true;
    if (stateful) {
      const [st] = await this.m.deps.drivers.states([rec]);
      if (st.pid <= 0) throw badRequest("Unable to create a stateful snapshot. The instance isn't running");
      const why = await criuProblem();
      if (why) throw badRequest(why);
    }
    return { name, expiresAt, stateful };
  }

  /** Where the snapshot's volume is mounted (publish reads it from there). */
  async path(rec: InstanceRecord, name: string): Promise<string> {
    const { sd, spec, disk } = await this.storage(rec);
    return sd.snapshotPath(spec, rec.type, disk, (await this.get(rec,name)).name);
  }

  private async storage(rec: InstanceRecord): Promise<{ sd: StorageDriver; spec: PoolSpec; disk: string; }> {
    const { pools } = this.m.deps;
    const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
    const pool = await pools.get(vol.pool);
    return { sd: pools.driver(pool), spec: pools.spec(pool), disk: storageName(rec.project, rec.name) };
  }

  /** Takes a planned snapshot: the row first (so a clash fails early), then the volume; the row goes if the copy fails. */
  async create(rec: InstanceRecord, p: { name: string; expiresAt: string; stateful: boolean }, now = new Date()): Promise<SnapshotRecord> {
    const { db, events } = this.m.deps;
    if (p.stateful) throw badRequest('Stateful snapshots are not supported on this server');
    let snap: SnapshotRecord;
    try {
      snap = await db.transaction((tx) =>
        tx.snapshots.create({
          instanceId: rec.id,
          name: p.name,
          createdAt: now.toISOString(),
          expiresAt: p.expiresAt,
          stateful: false,
          description: rec.description,
          architecture: rec.architecture,
          ephemeral: rec.ephemeral,
          config: rec.config,
          devices: rec.devices,
          profiles: rec.profiles,
        }),
      );
    } catch (err) {
      if (String(err).includes('UNIQUE')) throw conflict(`Snapshot "${p.name}" already exists`);
      throw err;
    }
    const { sd, spec, disk } = await this.storage(rec);
    try {
      await sd.createSnapshot(spec, rec.type, disk, p.name);
    } catch (err) {
      await sd.deleteSnapshot(spec, rec.type, disk, p.name).catch(() => undefined);
      await db.transaction((tx) => tx.snapshots.delete(snap.id));
      throw err;
    }
    await syncInstanceSnapshotLink(this.m, rec);
    events.lifecycle('instance-snapshot-created', `/1.0/instances/${rec.name}/snapshots/${p.name}`, rec.project);
    return snap;
  }

  /**
   * Incus's startup snapshot: with `@startup` among the entries of
   * `snapshots.schedule`, a snapshot named by `snapshots.pattern` and dated
   * by `snapshots.expiry` is taken each time the instance starts, before
   * its process runs. Callers hold the instance lock.
   */
  async takeStartupSnapshot(rec: InstanceRecord, expandedConfig: Record<string, string>, now = new Date()): Promise<void> {
    const triggers = (expandedConfig['snapshots.schedule'] ?? '').toLowerCase().split(', ');
    if (!triggers.includes('@startup')) return;
    let name: string;
    let expiry: Date | null;
    try {
      name = nextSnapshotName(expandedConfig['snapshots.pattern'] || 'snap%d', await this.m.deps.db.snapshots.names(rec.id), now);
      expiry = expiryFrom(now, expandedConfig['snapshots.expiry'] || '');
    } catch (err) {
      throw new Error(`Failed getting startup snapshot info: ${(err as Error).message}`);
    }
    try {
      await this.create(rec, { name, expiresAt: expiry ? expiry.toISOString() : NO_EXPIRY, stateful: false }, now);
    } catch (err) {
      throw new Error(`Failed taking startup snapshot: ${(err as Error).message}`);
    }
  }

  /** Deletes the volume, then the row. */
  async delete(rec: InstanceRecord, s: SnapshotRecord): Promise<void> {
    const { sd, spec, disk } = await this.storage(rec);
    await sd.deleteSnapshot(spec, rec.type, disk, s.name);
    await this.m.deps.db.transaction((tx) => tx.snapshots.delete(s.id));
    await syncInstanceSnapshotLink(this.m, rec);
    this.m.deps.events.lifecycle('instance-snapshot-deleted', `/1.0/instances/${rec.name}/snapshots/${s.name}`, rec.project);
  }

  async rename(rec: InstanceRecord, s: SnapshotRecord, newName: string): Promise<void> {
    validateSnapshotName(newName);
    const { db } = this.m.deps;
    if (await db.snapshots.get(rec.id,newName)) throw conflict(`Name "${rec.name}/${newName}" already in use`);
    const { sd, spec, disk } = await this.storage(rec);
    await sd.renameSnapshot(spec, rec.type, disk, s.name, newName);
    try {
      await db.transaction((tx) => tx.snapshots.rename(s.id, newName));
    } catch (err) {
      await sd.renameSnapshot(spec, rec.type, disk, newName, s.name);
      throw err;
    }
    this.m.deps.events.lifecycle('instance-snapshot-renamed', `/1.0/instances/${rec.name}/snapshots/${newName}`, rec.project, {
      old_name: s.name,
    });
  }

  async setExpiry(rec: InstanceRecord, s: SnapshotRecord, expiresAt: string): Promise<void> {
    await this.m.deps.db.transaction((tx) => tx.snapshots.setExpiry(s.id, normaliseExpiry(expiresAt)));
    this.m.deps.events.lifecycle('instance-snapshot-updated', `/1.0/instances/${rec.name}/snapshots/${s.name}`, rec.project);
  }

  /**
   * Restores disk and config from a snapshot. As Incus does, a running
   * instance is stopped first and started again afterwards.
   */
  async restore(rec: InstanceRecord, name: string, stateful = false): Promise<void> {
    const { db, drivers, events } = this.m.deps;
    const s = await this.get(rec,name);
    if (stateful && !s.stateful) throw badRequest('Stateful snapshot restore requested but snapshot is stateless');
    const [st] = await drivers.states([rec]);
    const wasRunning = st.pid > 0;
    if (wasRunning) {
      await drivers.of(rec.type).stop(await this.m.runtime(rec), { force: false, timeoutSec: 30 });
      await this.m.setVolatile(rec, 'volatile.last_state.power', 'STOPPED');
    }
    const { sd, spec, disk } = await this.storage(rec);
    await sd.restoreSnapshot(spec, rec.type, disk, s.name);
    const known = await this.m.profileLookup([rec.project]);
    const restored: InstanceRecord = {
      ...rec,
      architecture: s.architecture || rec.architecture,
      // A new generation tells the restored instance apart from the one the snapshot was taken of (Incus).
      config: { ...s.config, 'volatile.uuid.generation': randomUUID() },
      devices: s.devices,
      profiles: s.profiles.filter((p) => known(rec.project, p) !== undefined),
      ephemeral: s.ephemeral,
      description: s.description,
    };
    // As Incus: the root volume's description and config become the snapshot volume row's again.
    const vol = await this.m.deps.pools.volumeOf(rec.project, rec.type, rec.name);
    const snapVol = vol && (await db.pools.volume(vol.pool, rec.project, rec.type, `${rec.name}/${s.name}`));
    await db.transaction(async (tx) => {
      await tx.instances.update(restored);
      if (vol && snapVol) await tx.pools.updateVolume({ ...vol, description: snapVol.description, config: snapVol.config });
    });
    if (wasRunning) await this.actions.start(await this.m.get(rec.project,rec.name));
    events.lifecycle('instance-restored', `/1.0/instances/${rec.name}`, rec.project, { snapshot: s.name });
  }
}
