/**
 * The pool layer: storage pools as the API sees them, with the database
 * bookkeeping around the low-level drivers.
 */
import { join } from 'node:path';
import type { StoragePool } from '../../api/storage-pool';
import type { Db } from '../db';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest, conflict, notFound } from '../errors';
import { hostnameProblem } from '../instance/names';
import type { PoolSpec, StorageDriver, VolumeType } from './interface';
import { loadStorageDriver } from './load';

export class StoragePools {
  private readonly drivers = new Map<string, StorageDriver>();

  constructor(
    private readonly varDir: string,
    private readonly db: Db,
  ) {}

  list(): PoolRecord[] {
    return this.db.pools.list();
  }

  get(name: string): PoolRecord {
    const p = this.db.pools.get(name);
    if (!p) throw notFound('Storage pool not found');
    return p;
  }

  spec(p: PoolRecord): PoolSpec {
    return { name: p.name, config: p.config, mountPath: join(this.varDir, 'storage-pools', p.name) };
  }

  driver(p: PoolRecord): StorageDriver {
    let d = this.drivers.get(p.driver);
    if (!d) {
      d = loadStorageDriver(p.driver);
      this.drivers.set(p.driver, d);
    }
    return d;
  }

  /** Creates a pool on disk and in the database; undoes the disk part when the row fails. */
  async create(name: string, driverName: string, config: Record<string, string>, description: string): Promise<PoolRecord> {
    const why = hostnameProblem(name.replace(/[_.]/g, 'x'));
    if (why) throw badRequest(`Invalid storage pool name "${name}": ${why}`);
    if (this.db.pools.get(name)) throw conflict(`Storage pool "${name}" already exists`);
    const driver = loadStorageDriver(driverName);
    const spec: PoolSpec = { name, config, mountPath: join(this.varDir, 'storage-pools', name) };
    const full = driver.fillPoolConfig(spec);
    await driver.createPool({ ...spec, config: full });
    try {
      return this.db.transaction(() =>
        this.db.pools.create({ name, driver: driverName, description, config: full, status: 'Created' }),
      );
    } catch (err) {
      await driver.deletePool(spec).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes an unused pool. */
  async delete(p: PoolRecord): Promise<void> {
    if (this.db.pools.volumes(p.name).length > 0) throw badRequest('The storage pool is currently in use');
    this.db.transaction(() => this.db.pools.delete(p.id));
    await this.driver(p).deletePool(this.spec(p));
  }

  /** Makes sure every pool is usable at daemon start. */
  async mountAll(): Promise<void> {
    for (const p of this.list()) await this.driver(p).mountPool(this.spec(p));
  }

  volumePath(p: PoolRecord, type: VolumeType, name: string): string {
    return this.driver(p).volumePath(this.spec(p), type, name);
  }

  volumeOf(project: string, type: VolumeType, name: string): VolumeRecord | undefined {
    return this.db.pools.volumeOf(project, type, name);
  }

  toApi(p: PoolRecord): StoragePool {
    const usedBy = new Set<string>();
    for (const v of this.db.pools.volumes(p.name)) {
      const q = v.project === 'default' ? '' : `?project=${v.project}`;
      if (v.type === 'container' || v.type === 'virtual-machine') usedBy.add(`/1.0/instances/${v.name}${q}`);
      else if (v.type === 'image') usedBy.add(`/1.0/images/${v.name}${q}`);
      else usedBy.add(`/1.0/storage-pools/${p.name}/volumes/${v.type}/${v.name}${q}`);
    }
    for (const pr of this.db.profiles.list('default')) {
      if (Object.values(pr.devices).some((d) => d.type === 'disk' && d.pool === p.name)) usedBy.add(`/1.0/profiles/${pr.name}`);
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
