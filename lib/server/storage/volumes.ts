/**
 * Custom storage volumes: create (empty, or a copy of another volume),
 * update, rename, move across pools, delete; and who uses a volume (disk
 * devices with `pool` and `source` in instances and profiles). Volumes of
 * the other types (container, image) are listed here but owned by the
 * instance and image layers.
 */
import { chmod, chown } from 'node:fs/promises';
import type { StorageVolume, StorageVolumeState } from '../../api/storage-volume';
import type { Db } from '../db';
import type { InstanceRecord } from '../db/instances';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest, conflict, notFound } from '../errors';
import { parseSize } from '../instance/config/units';
import { expandConfig } from '../instance/expand';
import { isTrue } from '../instance/config-keys';
import { validateVolumeName } from '../names';
import { Reverter } from '../revert';
import type { VolumeType } from './interface';
import { storedContentType } from './block-file';
import type { StoragePools } from './pools';
import { VolumeSnapshots } from './volume-snapshots';
import { volumeDefaultsFrom } from './pool-keys';
import { compareSnapshots } from '../migration/snapshots';
import { copyVolumeContent, type CopyEnd, refreshVolumeContent } from './custom-volume-copy';
import { customDiskName, volumeDiskName } from './volume-names';
import { featureProject } from '../projects/features';
import { type DaemonStorageKey, daemonStorageUse } from './daemon-storage';
import { moveSnapshotVolumes } from './snapshot-folders';

const TYPES: Record<string, VolumeType> = { custom: 'custom', container: 'container', image: 'image', 'virtual-machine': 'virtual-machine' };
const CONTENT_TYPES = new Set(['filesystem', 'block', 'iso']);
const DEFAULT_BLOCK_SIZE = '10GiB';

/** Keys that only a filesystem volume takes, and those only a block one takes (Incus's poolAndVolumeCommonRules). */
const FILESYSTEM_ONLY = new Set(['security.shifted', 'security.unmapped', 'initial.uid', 'initial.gid', 'initial.mode', 'volatile.idmap.last', 'volatile.idmap.next']);
const BLOCK_ONLY = new Set(['security.shared']);

const VALIDATORS: Record<string, (v: string) => string | null> = {
  size: (v) => (v === '' || (parseSize(v) ?? 0) > 0 ? null : 'Invalid size'),
  'security.shifted': bool,
  'security.unmapped': bool,
  'initial.uid': uint,
  'initial.gid': uint,
  'initial.mode': (v) => (/^[0-7]{3,4}$/.test(v) ? null : 'Invalid file mode'),
  'security.shared': bool,
  'snapshots.schedule': () => null,
  'snapshots.schedule.stopped': bool,
  'snapshots.pattern': () => null,
  'snapshots.expiry': () => null,
  'snapshots.expiry.manual': () => null,
  // The map the volume's files are shifted to on disk (instance/volume-idmap.ts).
  'volatile.idmap.last': () => null,
  'volatile.idmap.next': () => null,
};

function bool(v: string): string | null {
  return ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''].includes(v.toLowerCase()) ? null : 'Invalid boolean';
}

function uint(v: string): string | null {
  return /^\d+$/.test(v) ? null : 'Invalid integer';
}

/** Parses a volume type from a URL, 400 for an unknown one. */
export function volumeType(text: string): VolumeType {
  const t = TYPES[text];
  if (!t) throw badRequest(`Invalid storage volume type "${text}"`);
  return t;
}

/**
 * Throws a 400 naming the first invalid key; with a content type, a key of
 * the other content type is refused in Incus's words naming volume and key.
 */
export function validateVolumeConfig(config: Record<string, string>, contentType?: string, volume?: string): void {
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith('user.')) continue;
    const check = VALIDATORS[k];
    if (!check) throw badRequest(`Invalid option for volume "${k}": Unknown key`);
    if ((contentType === 'block' && FILESYSTEM_ONLY.has(k)) || (contentType === 'filesystem' && BLOCK_ONLY.has(k))) {
      throw badRequest(`Invalid option for volume "${volume ?? ''}" option "${k}"`);
    }
    const why = check(v);
    if (why) throw badRequest(`Invalid value for volume option "${k}": ${why}`);
  }
  if (isTrue(config['security.unmapped']) && isTrue(config['security.shifted'])) {
    throw badRequest('security.unmapped and security.shifted are mutually exclusive');
  }
}

export interface NewVolume {
  name: string;
  contentType: string;
  description: string;
  config: Record<string, string>;
  /** Copy the content of this volume (or of its snapshot), with its snapshots when `withSnapshots`. */
  copyFrom?: CopySource;
}

/** The source of a copy inside this server. */
export interface CopySource {
  pool: string;
  project: string;
  type: VolumeType;
  name: string;
  snapshot?: string;
  withSnapshots?: boolean;
}

/** A snapshot row that arrives with an adopted volume (config may hold volatile.expires_at). */
export interface AdoptedSnapshot {
  name: string;
  description: string;
  config: Record<string, string>;
  createdAt: string;
}

export class StorageVolumes {
  readonly snapshots: VolumeSnapshots;

  constructor(
    private readonly db: Db,
    private readonly pools: StoragePools,
  ) {
    this.snapshots = new VolumeSnapshots(db, pools);
  }

  async list(pool: PoolRecord, project: string, type?: VolumeType): Promise<VolumeRecord[]> {
    return this.listIn(pool, () => project, type);
  }

  /** The pool's volumes (not snapshots) each in the project `projectOf` names for its type. */
  async listIn(pool: PoolRecord, projectOf: (type: VolumeType) => string, type?: VolumeType): Promise<VolumeRecord[]> {
    const owners = new Map<string, string>();
    const owner = (t: VolumeType) => owners.get(t) ?? owners.set(t, projectOf(t)).get(t)!;
    return (await this.listAll(pool,type)).filter((v) => v.project === owner(v.type as VolumeType));
  }

  /** Every project's volumes of the pool (`all-projects=true`), snapshots left out. */
  async listAll(pool: PoolRecord, type?: VolumeType): Promise<VolumeRecord[]> {
    return (await this.db.pools.volumes(pool.name)).filter((v) => (!type || v.type === type) && !v.name.includes('/'));
  }

  async get(pool: PoolRecord, project: string, type: VolumeType, name: string): Promise<VolumeRecord> {
    const v = await this.db.pools.volume(pool.name, project, type, name);
    if (!v) throw notFound('Storage volume not found');
    return v;
  }

  /**
   * URLs of the instances and profiles whose disk devices use the custom
   * volume; a volume holding the daemon's backups or images is used by the
   * server itself alone (`/1.0#storage.backups_volume`), as Incus answers.
   */
  async usedBy(pool: string, project: string, name: string): Promise<string[]> {
    const daemonKey = await this.daemonUse(pool, project, name);
    if (daemonKey) return [`/1.0#${daemonKey}`];
    return customVolumeUsers(this.db, pool, project, name);
  }

  /** The server key (storage.backups_volume, storage.images_volume) that keeps the volume, or null. */
  async daemonUse(pool: string, project: string, name: string): Promise<DaemonStorageKey | null> {
    return daemonStorageUse(await this.db.config.all(), pool, project, name);
  }

  async toApi(v: VolumeRecord): Promise<StorageVolume> {
    const q = v.project === 'default' ? '' : `?project=${v.project}`;
    let usedBy: string[] = [];
    if (v.type === 'custom') usedBy = await this.usedBy(v.pool, v.project, v.name);
    else if (v.type === 'container' || v.type === 'virtual-machine') usedBy = [`/1.0/instances/${v.name}${q}`];
    else if (v.type === 'image') usedBy = [`/1.0/images/${v.name}${q}`];
    return {
      name: v.name,
      type: v.type,
      description: v.description,
      config: v.config,
      used_by: usedBy,
      location: 'none',
      content_type: v.contentType,
      project: v.project,
      created_at: v.createdAt,
    };
  }

  /** The checks a new custom volume passes before anything is made (400 for bad input, 409 when taken). */
  async checkNew(pool: PoolRecord, project: string, req: Pick<NewVolume, 'name' | 'contentType' | 'config'>): Promise<void> {
    validateVolumeName(req.name);
    if (!CONTENT_TYPES.has(req.contentType)) throw badRequest(`Invalid content type "${req.contentType}"`);
    validateVolumeConfig(req.config, req.contentType, req.name);
    if (await this.db.pools.volume(pool.name,project,'custom',req.name)) throw conflict(`Volume by that name already exists`);
  }

  /**
   * Adds the rows of a custom volume whose disk (and snapshots) already
   * arrived, e.g. by migration: its quota, then the volume and its
   * snapshots in one transaction (the last step: nothing to undo after it).
   */
  async adopt(pool: PoolRecord, project: string, req: Omit<NewVolume, 'copyFrom'>, snapshots: readonly AdoptedSnapshot[]): Promise<VolumeRecord> {
    const rows = async (): Promise<VolumeRecord> =>
      this.db.transaction(async (tx) => {
        const rec = await tx.pools.createVolume({ pool: pool.name, project, name: req.name, type: 'custom', contentType: req.contentType, description: req.description, config: req.config, createdAt: new Date().toISOString() });
        for (const snap of snapshots) {
          await tx.pools.createVolume({ pool: pool.name, project, name: `${req.name}/${snap.name}`, type: 'custom', contentType: req.contentType, description: snap.description, config: snap.config, createdAt: snap.createdAt });
        }
        return rec;
      });
    if (req.config.size && req.contentType === 'filesystem') await this.pools.applyQuota(pool, 'custom', volumeDiskName('custom', project, req.name), req.config.size);
    return rows();
  }

  /** Creates a custom volume on disk and in the database; nothing is left behind on failure. */
  async create(pool: PoolRecord, project: string, req: NewVolume): Promise<VolumeRecord> {
    await this.checkNew(pool, project, req);
    const config = { ...volumeDefaultsFrom(pool.config, 'custom', req.contentType), ...req.config };
    // A copy without its own size keeps the source's (the disk is copied whole).
    const from = req.copyFrom && (await this.db.pools.volume(req.copyFrom.pool, req.copyFrom.project, req.copyFrom.type, sourceRowName(req.copyFrom)));
    if (from && from.contentType === req.contentType && from.config.size && !config.size) config.size = from.config.size;
    if (req.contentType === 'block') config.size ||= DEFAULT_BLOCK_SIZE;

    const sd = this.pools.driver(pool);
    const spec = this.pools.spec(pool);
    const disk = customDiskName({ project, name: req.name, contentType: req.contentType });
    const r = new Reverter();
    try {
      const rec = await this.db.transaction((tx) =>
        tx.pools.createVolume({
          pool: pool.name,
          project,
          name: req.name,
          type: 'custom',
          contentType: req.contentType,
          description: req.description,
          config,
          createdAt: new Date().toISOString(),
        }),
      );
      r.add(() => this.db.pools.deleteVolume(rec.id));
      r.add(() => sd.deleteVolume(spec, 'custom', disk));
      const src = req.copyFrom;
      const contentType = storedContentType(req.contentType);
      const size = contentType === 'block' ? parseSize(config.size!)! : undefined;
      if (src) {
        const snaps = await this.sourceSnapshots(src);
        await copyVolumeContent(await this.copyEnd(src), { sd, spec, type: 'custom', disk }, { fromSnapshot: src.snapshot, snapshots: snaps.map(snapName), contentType, size }, r);
        await this.addSnapshotRows(pool.name, project, req.name, snaps);
      } else {
        await sd.createVolume(spec, 'custom', disk, { contentType, size });
        if (contentType === 'filesystem') await this.applyInitial(sd.volumePath(spec, 'custom', disk), config);
      }
      if (config.size && req.contentType === 'filesystem') await this.pools.applyQuota(pool, 'custom', disk, config.size);
      r.success();
      return rec;
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /**
   * `source.refresh` on an existing copy (Incus's RefreshCustomVolume): the
   * copy's snapshots that differ from the source's go, the missing ones are
   * built, then the content is synced again.
   */
  async refresh(pool: PoolRecord, v: VolumeRecord, src: CopySource, excludeOlder: boolean): Promise<void> {
    const offered = await this.sourceSnapshots(src);
    const have = await this.snapshots.list(pool, v);
    const seconds = (x: VolumeRecord) => ({ name: snapName(x), created: Math.floor(Date.parse(x.createdAt) / 1000) });
    const cmp = compareSnapshots(offered.map(seconds), have.map(seconds), excludeOlder);
    for (const name of cmp.remove) await this.snapshots.delete(pool, v, name);
    const wanted = offered.filter((x) => cmp.sync.includes(snapName(x)));
    const r = new Reverter();
    try {
      const dst = { sd: this.pools.driver(pool), spec: this.pools.spec(pool), type: 'custom' as const, disk: volumeDiskName('custom', v.project, v.name) };
      await refreshVolumeContent(await this.copyEnd(src), dst, src.snapshot, wanted.map(snapName), r);
      await this.addSnapshotRows(pool.name, v.project, v.name, wanted);
      r.success();
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /** The source snapshot rows a copy takes along, oldest first (none from a snapshot or with volume_only). */
  private async sourceSnapshots(src: CopySource): Promise<VolumeRecord[]> {
    if (src.snapshot !== undefined || !src.withSnapshots) return [];
    const pool = await this.pools.get(src.pool);
    const v = await this.get(pool, src.project, src.type, src.name);
    return (await this.snapshots.list(pool, v)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private async copyEnd(src: CopySource): Promise<CopyEnd> {
    const pool = await this.pools.get(src.pool);
    // An ISO volume's folder carries `.iso`.
    const row = src.type === 'custom' ? await this.db.pools.volume(src.pool, src.project, src.type, src.name) : undefined;
    const disk = row ? customDiskName(row) : volumeDiskName(src.type, src.project, src.name);
    return { sd: this.pools.driver(pool), spec: this.pools.spec(pool), type: src.type, disk };
  }

  /** The copied snapshots' rows under the new volume, with the source rows' description, config and dates. */
  private async addSnapshotRows(pool: string, project: string, volume: string, snaps: readonly VolumeRecord[]): Promise<void> {
    if (snaps.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const x of snaps) {
        await tx.pools.createVolume({ pool, project, name: `${volume}/${snapName(x)}`, type: 'custom', contentType: x.contentType, description: x.description, config: x.config, createdAt: x.createdAt });
      }
    });
  }

  /** initial.uid/gid/mode: the owner and mode of a new volume's root directory. */
  private async applyInitial(path: string, config: Record<string, string>): Promise<void> {
    const uid = config['initial.uid'];
    const gid = config['initial.gid'];
    if (uid !== undefined || gid !== undefined) await chown(path, Number(uid ?? 0), Number(gid ?? 0));
    if (config['initial.mode']) await chmod(path, parseInt(config['initial.mode'], 8));
    else await chmod(path, 0o711);
  }

  /** PUT/PATCH: new config and description; a changed `size` is applied as a quota. */
  async update(pool: PoolRecord, v: VolumeRecord, config: Record<string, string>, description: string): Promise<VolumeRecord> {
    validateVolumeConfig(config, v.contentType, v.name);
    for (const k of Object.keys({ ...config, ...v.config })) {
      if (k.startsWith('initial.') && config[k] !== v.config[k]) throw badRequest(`Invalid option "${k}": only set when the volume is created`);
    }
    if (v.contentType === 'block') {
      // A block volume's size is its disk's: grown (never shrunk); unset keeps the disk as it is, as Incus does.
      if (config.size && config.size !== v.config.size) {
        await this.pools.driver(pool).resizeBlockVolume(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), parseSize(config.size)!);
      }
    } else if ((config.size ?? '') !== (v.config.size ?? '')) {
      if (config.size) await this.pools.applyQuota(pool, v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), config.size);
      else await this.pools.driver(pool).setVolumeQuota?.(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), null);
    }
    const next = { ...v, config: { ...config }, description };
    // An unmapped volume is never shifted: no map to remember (as Incus).
    if (isTrue(config['security.unmapped'])) {
      delete next.config['volatile.idmap.last'];
      delete next.config['volatile.idmap.next'];
    }
    await this.db.transaction((tx) => tx.pools.updateVolume(next));
    return next;
  }

  async delete(pool: PoolRecord, v: VolumeRecord): Promise<void> {
    if (v.type !== 'custom') throw badRequest(`Storage volumes of type "${v.type}" cannot be deleted with the storage API`);
    const users = await this.usedBy(pool.name,v.project,v.name);
    if (users.length > 0) throw badRequest('The storage volume is still in use');
    await this.snapshots.deleteAll(pool, v);
    await this.pools.driver(pool).deleteVolume(this.pools.spec(pool), 'custom', customDiskName(v));
    await this.db.transaction((tx) => tx.pools.deleteVolume(v.id));
  }

  /** Renames a custom volume, or moves it to another pool (copy, then delete the source). */
  async rename(pool: PoolRecord, v: VolumeRecord, newName: string, targetPool?: string): Promise<VolumeRecord> {
    validateVolumeName(newName);
    if (v.type !== 'custom') throw badRequest(`Storage volumes of type "${v.type}" cannot be renamed with the storage API`);
    if (await this.daemonUse(pool.name, v.project, v.name)) throw badRequest('Volume is used by Incus itself and cannot be renamed');
    const users = await this.usedBy(pool.name,v.project,v.name);
    if (users.length > 0) throw badRequest(`The storage volume is still in use by: ${users.join(', ')}`);
    const snapshots = await this.snapshots.list(pool, v);
    if (targetPool && targetPool !== pool.name) {
      const dst = await this.pools.get(targetPool);
      const copy = await this.create(dst, v.project, {
        name: newName,
        contentType: v.contentType,
        description: v.description,
        config: v.config,
        copyFrom: { pool: pool.name, project: v.project, type: 'custom', name: v.name, withSnapshots: true },
      });
      await this.snapshots.deleteAll(pool, v);
      await this.pools.driver(pool).deleteVolume(this.pools.spec(pool), 'custom', customDiskName(v));
      await this.db.transaction((tx) => tx.pools.deleteVolume(v.id));
      return copy;
    }
    if (newName === v.name) return v;
    if (await this.db.pools.volume(pool.name,v.project,'custom',newName)) throw conflict('Volume by that name already exists');
    const sd = this.pools.driver(pool);
    const [fromDisk, toDisk] = [customDiskName(v), customDiskName({ ...v, name: newName })];
    const spec = this.pools.spec(pool);
    await sd.renameVolume(spec, 'custom', fromDisk, toDisk);
    await moveSnapshotVolumes(sd, spec, 'custom', fromDisk, toDisk);
    try {
      await this.db.transaction(async (tx) => {
        await tx.pools.renameVolume(v.id, newName);
        for (const s of snapshots) await tx.pools.renameVolume(s.id, `${newName}/${snapName(s)}`);
      });
    } catch (err) {
      await sd.renameVolume(spec, 'custom', toDisk, fromDisk);
      await moveSnapshotVolumes(sd, spec, 'custom', toDisk, fromDisk);
      throw err;
    }
    return { ...v, name: newName };
  }

  async state(pool: PoolRecord, v: VolumeRecord): Promise<StorageVolumeState> {
    const sd = this.pools.driver(pool);
    const used = (await sd.volumeUsage?.(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name))) ?? null;
    if (used === null) return { usage: null };
    return { usage: { used, total: parseSize(v.config.size ?? '') ?? -1 } };
  }
}

/** URLs of the instances and profiles whose disk devices use custom volume `name` of `project` on `pool`. */
/** A snapshot row's own name (`<volume>/<snapshot>` without the volume). */
const snapName = (x: VolumeRecord): string => x.name.split('/')[1]!;

/** The row a copy reads: the volume's, or its snapshot's. */
const sourceRowName = (src: CopySource): string => (src.snapshot === undefined ? src.name : `${src.name}/${src.snapshot}`);

export async function customVolumeUsers(db: Db, pool: string, project: string, name: string): Promise<string[]> {
  const { instances, profiles } = await customVolumeUserRecords(db, pool, project, name);
  const q = (p: string): string => (p === 'default' ? '' : `?project=${p}`);
  const out = new Set<string>();
  for (const inst of instances) out.add(`/1.0/instances/${inst.name}${q(inst.project)}`);
  for (const x of profiles) out.add(`/1.0/profiles/${x.name}${q(x.project)}`);
  return [...out].sort();
}

/**
 * The instances and profiles whose disk devices name the custom volume
 * (`source` is the volume, or `<volume>/<subpath>`).
 */
export async function customVolumeUserRecords(
  db: Db,
  pool: string,
  project: string,
  name: string,
): Promise<{ instances: InstanceRecord[]; profiles: { project: string; name: string }[] }> {
  const uses = (devices: Record<string, Record<string, string>>) =>
    Object.values(devices).some((d) => d.type === 'disk' && d.pool === pool && d.source?.split('/')[0] === name && d.path !== '/');
  const instances: InstanceRecord[] = [];
  const profiles = new Map<string, { project: string; name: string }>();
  // Every project whose custom volumes are `project`'s (itself, or those without features.storage.volumes).
  for (const p of await db.projects.list()) {
    if (featureProject(p.name, p.config, 'storage.volumes') !== project) continue;
    const owner = featureProject(p.name, p.config, 'profiles');
    const byName = new Map((await db.profiles.list(owner)).map((x) => [x.name, x]));
    for (const inst of await db.instances.list(p.name)) {
      const layers = inst.profiles.map((n) => byName.get(n)).filter((x) => x !== undefined);
      const { devices } = expandConfig(layers, { config: inst.config, devices: inst.devices });
      if (uses(devices)) instances.push(inst);
    }
    for (const x of byName.values()) if (uses(x.devices)) profiles.set(`${owner}/${x.name}`, { project: owner, name: x.name });
  }
  return { instances, profiles: [...profiles.values()] };
}
