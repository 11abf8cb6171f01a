/**
 * The pool layer: storage pools as the API sees them, with the database
 * bookkeeping around the low-level drivers.
 */
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoragePool } from '../../api/storage-pool';
import type { Db } from '../db';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest, conflict, notFound } from '../errors';
import { parseSize } from '../instance/config/units';
import { childPath, pathComponentProblem, validatePoolName } from '../names';
import type { PoolSpec, StorageDriver, VolumeType } from './interface';
import { loadStorageDriver } from './load';
import { fixPoolModes } from './modes';
import { blockFileSize } from './block-file';
import { checkCommonPoolKeys } from './pool-keys';
import { POOL_MEMBER_KEYS } from '../db/pool-member-keys';

export class StoragePools {
  private readonly drivers = new Map<string, StorageDriver>();
  private readonly imageUnpacks = new Map<string, Promise<void>>();

  constructor(
    private readonly varDir: string,
    private readonly db: Db,
  ) {}

  async list(): Promise<PoolRecord[]> {
    return this.db.pools.list();
  }

  async get(name: string): Promise<PoolRecord> {
    const p = await this.db.pools.get(name);
    if (!p) throw notFound('Storage pool not found');
    return p;
  }

  spec(p: PoolRecord): PoolSpec {
    return { name: p.name, config: p.config, mountPath: this.mountPath(p.name) };
  }

  /** $INCUS_DIR/storage-pools/<name>, never anything else (a pool named ".." must not be INCUS_DIR). */
  private mountPath(name: string): string {
    return childPath(join(this.varDir, 'storage-pools'), name);
  }

  driver(p: PoolRecord): StorageDriver {
    let d = this.drivers.get(p.driver);
    if (!d) {
      d = loadStorageDriver(p.driver);
      this.drivers.set(p.driver, d);
    }
    return d;
  }

  /**
   * A pool that is on disk but not in the database (`admin recover`): its
   * config checked and filled as for a new pool, then mounted, without a row
   * (id 0) until the recovery records it.
   */
  async temporary(name: string, driverName: string, config: Record<string, string>): Promise<PoolRecord> {
    validatePoolName(name);
    const driver = loadStorageDriver(driverName);
    const spec: PoolSpec = { name, config, mountPath: this.mountPath(name) };
    const full = driver.fillPoolConfig(spec);
    await driver.mountPool({ ...spec, config: full }).catch((err: Error) => {
      throw badRequest(`Failed mounting pool "${name}": ${err.message}`);
    });
    return { id: 0, name, driver: driverName, description: '', config: full, status: 'Created', onMember: true };
  }

  /** Creates a pool on disk and in the database; undoes the disk part when the row fails. */
  async create(name: string, driverName: string, config: Record<string, string>, description: string): Promise<PoolRecord> {
    validatePoolName(name);
    if (await this.db.pools.get(name)) throw conflict(`Storage pool "${name}" already exists`);
    const driver = loadStorageDriver(driverName);
    const spec: PoolSpec = { name, config, mountPath: this.mountPath(name) };
    checkCommonPoolKeys(config);
    const full = driver.fillPoolConfig(spec);
    await driver.createPool({ ...spec, config: full });
    try {
      return this.db.transaction((tx) =>
        tx.pools.create({ name, driver: driverName, description, config: full, status: 'Created' }),
      );
    } catch (err) {
      await driver.deletePool(spec).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Creates a cluster's pool on this member (one that joined after the pool
   * was defined): the shared config with this member's own keys (`source`,
   * `size`; the driver's defaults where none are given), on disk, then
   * recorded as created here.
   */
  async createOnMember(p: PoolRecord, memberConfig: Record<string, string>): Promise<void> {
    const shared = Object.fromEntries(Object.entries(p.config).filter(([k]) => !POOL_MEMBER_KEYS.has(k)));
    const spec: PoolSpec = { name: p.name, config: { ...shared, ...memberConfig }, mountPath: this.mountPath(p.name) };
    const driver = this.driver(p);
    const full = driver.fillPoolConfig(spec);
    await driver.createPool({ ...spec, config: full });
    try {
      await this.db.transaction((tx) => tx.pools.createOnMember(p.id, full));
    } catch (err) {
      await driver.deletePool(spec).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes an unused pool; cached image volumes do not count as use and go with it. */
  async delete(p: PoolRecord): Promise<void> {
    // First: a name that cannot be a directory answers 400 before anything changes.
    const spec = this.spec(p);
    const vols = await this.db.pools.volumes(p.name);
    await this.checkUnused(p);
    for (const v of vols.filter((x) => x.type === 'image')) {
      await this.driver(p).deleteVolume(spec, 'image', v.name);
      await this.db.transaction((tx) => tx.pools.deleteVolume(v.id));
    }
    await this.db.transaction((tx) => tx.pools.delete(p.id));
    await this.driver(p).deletePool(spec);
  }

  /** 400 when anything but cached images uses the pool. */
  async checkUnused(p: PoolRecord): Promise<void> {
    const users = (await this.toApi(p)).used_by.filter((u) => !u.startsWith('/1.0/images/'));
    if (users.length > 0) throw badRequest('The storage pool is currently in use');
  }

  /** A cluster's pool removed from this member's disk only (its rows are the deleting member's job). */
  async deleteHere(p: PoolRecord): Promise<void> {
    if (!p.onMember) return;
    const spec = this.spec(p);
    for (const v of (await this.db.pools.volumes(p.name)).filter((x) => x.type === 'image')) {
      await this.driver(p).deleteVolume(spec, 'image', v.name).catch(() => undefined);
    }
    await this.driver(p).deletePool(spec);
  }

  /**
   * Replaces a pool's config and description (PUT/PATCH); the driver
   * validates the result. A larger `size` grows the pool where the driver
   * can (a loop file it made); a smaller one is refused.
   */
  async update(p: PoolRecord, config: Record<string, string>, description: string): Promise<PoolRecord> {
    const fixed = pick(p.config, ['source', 'lvm.vg_name', 'lvm.thinpool_name']);
    for (const [k, v] of Object.entries(fixed)) {
      if (config[k] !== undefined && config[k] !== v) throw badRequest(`Invalid option "${k}": cannot be changed on an existing pool`);
    }
    checkCommonPoolKeys(config);
    const grow = config.size !== undefined && config.size !== p.config.size ? config.size : undefined;
    const size = grow ?? p.config.size;
    const full = this.driver(p).fillPoolConfig({ ...this.spec(p), config: { ...config, ...fixed, ...(size === undefined ? {} : { size }) } });
    if (grow !== undefined) await this.grow(p, grow);
    const next = { ...p, config: full, description };
    await this.db.transaction((tx) => tx.pools.update(next));
    return next;
  }

  private async grow(p: PoolRecord, size: string): Promise<void> {
    const sd = this.driver(p);
    const to = parseSize(size);
    if (to === null || to <= 0) throw badRequest(`Invalid value for "size": "${size}" is not a size`);
    if (to < (parseSize(p.config.size ?? '') ?? 0)) throw badRequest('Pool cannot be shrunk');
    if (!sd.resizePool) throw badRequest('Invalid option "size": cannot be changed on an existing pool');
    await sd.resizePool(this.spec(p), to);
  }

  /**
   * Applies a volume size (root disk `size`, volume `size`) as a quota
   * where the driver has them; ignored where it has not (as Incus's dir
   * driver does without project quotas). A VM's size is its block disk's,
   * grown on every driver (400 on a shrink).
   */
  async applyQuota(p: PoolRecord, type: VolumeType, name: string, size: string): Promise<void> {
    const bytes = parseSize(size);
    if (bytes === null || bytes <= 0) throw badRequest(`Invalid value for "size": "${size}" is not a size`);
    const sd = this.driver(p);
    if (type === 'virtual-machine') return sd.resizeBlockVolume(this.spec(p), type, name, bytes);
    if (!sd.info.quotas || !sd.setVolumeQuota) return;
    await sd.setVolumeQuota(this.spec(p), type, name, bytes);
  }

  /** Space on the pool's filesystem (`/resources`). */
  async resources(p: PoolRecord): Promise<{ space: { used: number; total: number }; inodes: { used: number; total: number } }> {
    const st = await statfs(this.spec(p).mountPath);
    const total = st.blocks * st.bsize;
    return {
      space: { used: total - st.bfree * st.bsize, total },
      inodes: { used: st.files - st.ffree, total: st.files },
    };
  }

  /**
   * The image's volume on a pool whose driver has optimized images: unpacked
   * once (recorded as a volume of type image), then only cloned. Concurrent
   * launches of one image wait for the same unpack. A VM image (qcow2
   * rootfs) becomes a block image volume: its disk converted to raw once.
   */
  async ensureImageVolume(p: PoolRecord, fingerprint: string, imageFile: string, rootfsFile?: string): Promise<void> {
    const key = `${p.name}/${fingerprint}`;
    let pending = this.imageUnpacks.get(key);
    if (!pending) {
      pending = this.unpackImageVolume(p, fingerprint, imageFile, rootfsFile).finally(() => this.imageUnpacks.delete(key));
      this.imageUnpacks.set(key, pending);
    }
    await pending;
  }

  private async unpackImageVolume(p: PoolRecord, fingerprint: string, imageFile: string, rootfsFile?: string): Promise<void> {
    const sd = this.driver(p);
    const spec = this.spec(p);
    const row = await this.db.pools.volume(p.name, 'default', 'image', fingerprint);
    // In a cluster the row is the first member's: another member unpacks its own copy once.
    const onDisk = row ? await stat(sd.volumePath(spec, 'image', fingerprint)).then(() => true, () => false) : false;
    if (row && onDisk) return;
    await sd.deleteVolume(spec, 'image', fingerprint).catch(() => undefined);
    await sd.createVolumeFromImage(spec, 'image', fingerprint, imageFile, rootfsFile);
    if (row) return;
    // A VM image left a disk: the image volume is a block one.
    const block = (await blockFileSize(sd.blockPath(spec, 'image', fingerprint))) !== null;
    try {
      await this.db.transaction((tx) =>
        tx.pools.createVolume({
          pool: p.name,
          project: 'default',
          name: fingerprint,
          type: 'image',
          contentType: block ? 'block' : 'filesystem',
          description: '',
          config: {},
          createdAt: new Date().toISOString(),
        }),
      );
    } catch (err) {
      // Another cluster member recorded the image volume meanwhile: this member's copy stands.
      if (await this.db.pools.volume(p.name, 'default', 'image', fingerprint)) return;
      await sd.deleteVolume(spec, 'image', fingerprint).catch(() => undefined);
      throw err;
    }
  }

  /** Drops this member's disk copies of an image's volumes (another member deleted the image and its rows). */
  async dropLocalImageVolumes(fingerprint: string): Promise<void> {
    for (const p of await this.list()) {
      if (p.onMember) await this.driver(p).deleteVolume(this.spec(p), 'image', fingerprint).catch(() => undefined);
    }
  }

  /** Drops an image's cached volumes from every pool (the image was deleted). */
  async deleteImageVolumes(fingerprint: string): Promise<void> {
    for (const p of await this.list()) {
      const v = await this.db.pools.volume(p.name, 'default', 'image', fingerprint);
      if (!v) continue;
      await this.driver(p).deleteVolume(this.spec(p), 'image', fingerprint);
      await this.db.transaction((tx) => tx.pools.deleteVolume(v.id));
    }
  }

  /**
   * Makes sure every pool is usable at daemon start, modes an older installation left closed up (see modes.ts).
   * A pool whose name cannot be a directory (left by an older version that let "." or ".." through) is skipped.
   */
  async mountAll(): Promise<void> {
    for (const p of await this.list()) {
      // A cluster's pool not (yet) created on this member has nothing here to mount.
      if (pathComponentProblem(p.name) !== null || !p.onMember) continue;
      await this.driver(p).mountPool(this.spec(p));
      await fixPoolModes(this.spec(p).mountPath);
    }
  }

  volumePath(p: PoolRecord, type: VolumeType, name: string): string {
    return this.driver(p).volumePath(this.spec(p), type, name);
  }

  async volumeOf(project: string, type: VolumeType, name: string): Promise<VolumeRecord | undefined> {
    return this.db.pools.volumeOf(project, type, name);
  }

  async toApi(p: PoolRecord): Promise<StoragePool> {
    const usedBy = new Set<string>();
    for (const v of await this.db.pools.volumes(p.name)) {
      if (v.name.includes('/')) continue;
      const q = v.project === 'default' ? '' : `?project=${v.project}`;
      if (v.type === 'container' || v.type === 'virtual-machine') usedBy.add(`/1.0/instances/${v.name}${q}`);
      else if (v.type === 'image') usedBy.add(`/1.0/images/${v.name}${q}`);
      else usedBy.add(`/1.0/storage-pools/${p.name}/volumes/${v.type}/${v.name}${q}`);
    }
    for (const project of await this.db.projects.list()) {
      const q = project.name === 'default' ? '' : `?project=${project.name}`;
      for (const pr of await this.db.profiles.list(project.name)) {
        if (Object.values(pr.devices).some((d) => d.type === 'disk' && d.pool === p.name)) usedBy.add(`/1.0/profiles/${pr.name}${q}`);
      }
    }
    return {
      name: p.name,
      driver: p.driver,
      description: p.description,
      config: p.config,
      status: p.status,
      locations: ['none'],
      used_by: [...usedBy].sort(),
    };
  }
}

function pick(m: Record<string, string>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (m[k] !== undefined) out[k] = m[k];
  return out;
}
