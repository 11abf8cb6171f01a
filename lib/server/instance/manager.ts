/**
 * The instance layer: create, update, rename and delete instances, keeping
 * the database, the storage volume and the driver's runtime files in step.
 * Multi-step work registers undo steps and commits only at the end.
 */
import { randomUUID } from 'node:crypto';
import type { DevicesMap, Instance, InstancePut, InstanceSource, InstanceType, InstancesPost } from '../../api/instance';
import type { Db } from '../db';
import type { InstanceRecord, NewInstance } from '../db/instances';
import type { PoolRecord } from '../db/storage-pools';
import type { ProfileRecord } from '../db/profiles';
import { ProfileMissingError } from '../db/instances';
import { badRequest, conflict, notFound, StatusError } from '../errors';
import type { ImageStore } from '../images/store';
import type { ImageDownloader, RemoteSource } from '../images/remote/downloader';
import { imageCacheConfig } from '../images/remote/config';
import type { EventBus } from '../operations/event-bus';
import { Reverter } from '../revert';
import type { StoragePools } from '../storage/pools';
import { storageName, volumeDiskName } from '../storage/volume-names';
import { allowInstanceCreation, allowInstanceUpdate } from '../projects/permissions';
import { type FeatureKind, featureProject } from '../projects/features';
import { isTrue, validateInstanceConfig } from './config-keys';
import { expandConfig, rootDisk } from './expand';
import { type Idmap, idmapJson } from './idmap';
import { type IdmapEntry, allocateIdmap, entriesJson, parseIdmapJson } from './idmap-alloc';
import type { InstanceRuntime, MetricsTarget } from './interface';
import type { InstanceDrivers } from './load';
import { InstanceLocks } from './locks';
import { generateName, validateInstanceName } from './names';
import { makeRootVolume } from './root-volume';
import { validateDevices } from './devices/validate';
import { volatileToReset } from './devices/volatile-reset';
import { missingNicVolatile, nicHostNameVolatile } from './devices/nic-common';
import { deviceChanges } from './devices/runner';
import { splitVolumeSource } from './devices/volume-subpath';
import { shiftAttachedVolumes } from './volume-idmap';
import { planIdmap, planNextIdmap } from './idmap-plan';
import { deleteSnapshotVolumes, moveSnapshotVolumes } from '../storage/snapshot-folders';
import { attachInstance, detachInstance } from './links';

export interface ManagerDeps {
  db: Db;
  events: EventBus;
  images: ImageStore;
  /** Fetches images named by a remote source (launch from a remote); absent, such launches answer 501. */
  imageDownloader?: ImageDownloader;
  pools: StoragePools;
  drivers: InstanceDrivers;
  idmap: Idmap;
  /** Whether idmapped mounts work on a pool's filesystem (probed at start-up). */
  idmappedPool: (pool: string) => boolean;
  /** INCUS_DIR: where the instance and snapshot links live. */
  varDir: string;
}

/** A validated create request, ready to run in an operation. */
export interface CreatePlan {
  project: string;
  name: string;
  record: NewInstance;
  pool: string;
  imageFingerprint: string | null;
  /** An image still to fetch from another server (then imageFingerprint is null until create()). */
  remoteImage?: RemoteSource;
  start: boolean;
}

/** What the image downloader needs of an instance source naming an image on another server. */
export function remoteImageOf(source: InstanceSource & { server: string }, type: InstanceType): RemoteSource {
  return {
    server: source.server,
    protocol: source.protocol,
    alias: source.alias,
    fingerprint: source.fingerprint,
    secret: source.secret,
    certificate: source.certificate,
    project: source.project,
    image_type: type,
  };
}

/** Finds a profile by name for an instance of `project` (in that project's profile project). */
export type ProfileLookup = (project: string, name: string) => ProfileRecord | undefined;

export class InstanceManager {
  readonly locks = new InstanceLocks();
  /** Serialises id map placement (refreshIdmap). */
  private idmapQueue: Promise<void> = Promise.resolve();

  constructor(readonly deps: ManagerDeps) {}

  /** The instance's record, or a 404 "Instance not found". */
  async get(project: string, name: string): Promise<InstanceRecord> {
    const rec = await this.deps.db.instances.get(project, name);
    if (!rec) throw notFound('Instance not found');
    return rec;
  }

  /**
   * The project whose profiles instances of `project` use: itself with
   * features.profiles, else `default` (Incus's project.ProfileProject).
   */
  profileProject(project: string): Promise<string> {
    return this.featureProject(project, 'profiles');
  }

  /** The project whose resources of `kind` instances of `project` use (default's when the feature is off). */
  async featureProject(project: string, kind: FeatureKind): Promise<string> {
    if (project === 'default') return project;
    const p = await this.deps.db.projects.get(project);
    return p ? featureProject(project, p.config, kind) : project;
  }

  /**
   * A synchronous profile lookup for the instances of `projects`: each
   * profile project's profiles read once (one query per project), for
   * expanding one or many instances.
   */
  async profileLookup(projects: Iterable<string>): Promise<ProfileLookup> {
    const owners = new Map<string, string>();
    const byOwner = new Map<string, Map<string, ProfileRecord>>();
    for (const project of new Set(projects)) {
      const owner = await this.profileProject(project);
      owners.set(project, owner);
      if (!byOwner.has(owner)) byOwner.set(owner, new Map((await this.deps.db.profiles.list(owner)).map((p) => [p.name, p])));
    }
    return (project, name) => byOwner.get(owners.get(project) ?? '')?.get(name);
  }

  lockKey(rec: Pick<InstanceRecord, 'project' | 'name'>): string {
    return `${rec.project}/${rec.name}`;
  }

  /** Expanded config and devices: profiles in order, then the instance. */
  async expand(rec: Pick<InstanceRecord, 'project' | 'profiles' | 'config' | 'devices'>): Promise<Pick<Instance, 'expanded_config' | 'expanded_devices'>> {
    return this.expandWith(rec, await this.profileLookup([rec.project]));
  }

  /** {@link expand} with the profiles already read (see {@link profileLookup}). */
  expandWith(
    rec: Pick<InstanceRecord, 'project' | 'profiles' | 'config' | 'devices'>,
    profiles: ProfileLookup,
  ): Pick<Instance, 'expanded_config' | 'expanded_devices'> {
    const layers = rec.profiles.map((p) => {
      const pr = profiles(rec.project, p);
      if (!pr) throw badRequest(`Profile "${p}" not found`);
      return pr;
    });
    const e = expandConfig(layers, rec);
    return { expanded_config: e.config, expanded_devices: e.devices };
  }

  /** What the driver needs to act on this instance. */
  /** `profiles`: a lookup shared by a batch (see {@link profileLookup}), else read for this one. */
  async runtime(rec: InstanceRecord, profiles?: ProfileLookup): Promise<InstanceRuntime> {
    const e = this.expandWith(rec, profiles ?? (await this.profileLookup([rec.project])));
    const vol = await this.deps.pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
    const pool = await this.deps.pools.get(vol.pool);
    const volumeProject = await this.featureProject(rec.project, 'storage.volumes');
    const disk = storageName(rec.project, rec.name);
    return {
      project: rec.project,
      name: rec.name,
      type: rec.type,
      rootDisk: rec.type === 'virtual-machine' ? this.deps.pools.driver(pool).blockPath(this.deps.pools.spec(pool), rec.type, disk) : undefined,
      expandedConfig: e.expanded_config,
      expandedDevices: e.expanded_devices,
      volumePath: this.deps.pools.volumePath(pool, rec.type, storageName(rec.project, rec.name)),
      idmappedRootfs: (rec.config['volatile.last_state.idmap'] ?? '[]') === '[]',
      idmap: isTrue(e.expanded_config['security.privileged']) ? null : this.currentIdmap(rec),
      volumeProject,
      ...(await this.customVolumes(volumeProject, e.expanded_devices)),
    };
  }

  /**
   * What a metrics scrape reads of many instances: expanded devices and the
   * root volume's path, each pool read once (the root disk device names it;
   * the volume's row only when it does not). One that fails to load is
   * handed to `failed` and left out.
   */
  async metricsTargets(recs: readonly InstanceRecord[], profiles: ProfileLookup, failed: (rec: InstanceRecord, err: unknown) => void): Promise<MetricsTarget[]> {
    const pools = new Map<string, Promise<PoolRecord>>();
    const pool = (name: string): Promise<PoolRecord> => {
      let p = pools.get(name);
      if (!p) pools.set(name, (p = this.deps.pools.get(name)));
      return p;
    };
    const loaded = await Promise.all(
      recs.map(async (rec): Promise<MetricsTarget | null> => {
        try {
          const devices = this.expandWith(rec, profiles).expanded_devices;
          let poolName = rootDisk(devices)?.pool;
          if (!poolName) {
            const vol = await this.deps.pools.volumeOf(rec.project, rec.type, rec.name);
            if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
            poolName = vol.pool;
          }
          const volumePath = this.deps.pools.volumePath(await pool(poolName), rec.type, storageName(rec.project, rec.name));
          return { project: rec.project, name: rec.name, type: rec.type, expandedDevices: devices, volumePath };
        } catch (err) {
          failed(rec, err);
          return null;
        }
      }),
    );
    return loaded.filter((t): t is MetricsTarget => t !== null);
  }

  /**
   * What the custom volumes that disk devices name need at run time: the raw
   * disks of block volumes, and the devices whose volume is security.shifted
   * (bound through an idmapped mount), by device name.
   */
  private async customVolumes(volProject: string, devices: DevicesMap): Promise<Pick<InstanceRuntime, 'blockVolumes' | 'shiftedVolumes'>> {
    const out: Pick<InstanceRuntime, 'blockVolumes' | 'shiftedVolumes'> = {};
    for (const [name, d] of Object.entries(devices)) {
      if (d.type !== 'disk' || !d.pool || !d.source) continue;
      const vol = await this.deps.db.pools.volume(d.pool, volProject, 'custom', splitVolumeSource(d.source).volume);
      if (vol?.contentType === 'filesystem' && isTrue(vol.config['security.shifted'])) (out.shiftedVolumes ??= []).push(name);
      if (vol?.contentType !== 'block') continue;
      const pool = await this.deps.pools.get(d.pool);
      (out.blockVolumes ??= {})[name] = this.deps.pools.driver(pool).blockPath(this.deps.pools.spec(pool), 'custom', volumeDiskName('custom', volProject, d.source));
    }
    return out;
  }

  /** The map recorded in volatile.idmap.current, or the host's shared range. */
  private currentIdmap(rec: InstanceRecord): IdmapEntry[] {
    const text = rec.config['volatile.idmap.current'];
    if (text) return parseIdmapJson(text);
    return allocateIdmap(this.deps.idmap, { isolated: false }, []).entries;
  }

  /**
   * Recomputes the id map before a start (security.idmap.* and raw.idmap may
   * have changed) and records it in the volatile keys; returns the record.
   * One at a time: two isolated containers starting together must not take
   * the same range.
   */
  async refreshIdmap(rec: InstanceRecord): Promise<InstanceRecord> {
    const run = this.idmapQueue.then(async () => {
      const plan = await planIdmap(this, rec, (await this.expand(rec)).expanded_config);
      if (!plan) return rec;
      const json = entriesJson(plan.entries);
      if (rec.config['volatile.idmap.current'] === json && rec.config['volatile.idmap.base'] === String(plan.base)) return rec;
      const config = { ...rec.config, 'volatile.idmap.base': String(plan.base), 'volatile.idmap.current': json, 'volatile.idmap.next': json };
      await this.deps.db.instances.setConfig(rec.id, config);
      return { ...rec, config };
    });
    this.idmapQueue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Before a start: records the MACs of NICs that have none in volatile yet
   * (NICs added through profiles) and the host-side names the server's
   * instances.nic.host_name asks for; returns the record.
   */
  async recordNicVolatile(rec: InstanceRecord): Promise<InstanceRecord> {
    const devices = (await this.expand(rec)).expanded_devices;
    const missing = missingNicVolatile(rec, devices);
    const withMacs = { ...rec, config: { ...rec.config, ...missing } };
    const mode = (await this.deps.db.config.all())['instances.nic.host_name'] ?? '';
    Object.assign(missing, nicHostNameVolatile(withMacs, devices, mode));
    if (Object.keys(missing).length === 0) return rec;
    const config = { ...rec.config, ...missing };
    for (const [k, v] of Object.entries(missing)) if (v === '') delete config[k];
    await this.deps.db.instances.setConfig(rec.id, config);
    return { ...rec, config };
  }

  /** Validates a create request synchronously (400/404/409), before any operation starts. */
  async planCreate(project: string, req: InstancesPost): Promise<CreatePlan> {
    const { db } = this.deps;
    const type: InstanceType = req.type || 'container';
    if (type !== 'container' && type !== 'virtual-machine') throw badRequest(`Invalid instance type "${String(type)}"`);
    // A type this host cannot run (no QEMU) is refused here, saying why.
    this.deps.drivers.of(type);
    const name = req.name ?? (await generateName(async (n) => (await db.instances.get(project, n)) !== undefined));
    validateInstanceName(name);
    if (await db.instances.get(project, name)) throw conflict(`Instance "${name}" already exists`);
    const config = { ...(req.config ?? {}) };
    validateInstanceConfig(config, type);
    for (const k of Object.keys(config)) if (k.startsWith('volatile.')) delete config[k];
    const devices = req.devices ?? {};
    await validateDevices(this.deps, devices, {
      profile: false,
      instanceType: type,
      supported: this.deps.drivers.of(type).info.features.devices,
      volumeProject: await this.featureProject(project, 'storage.volumes'),
      instance: { project, name },
    });
    const profiles = req.profiles ?? ['default'];
    if (new Set(profiles).size !== profiles.length) throw badRequest('Duplicate profile found in request');

    const source = req.source ?? { type: 'none' as const };
    let imageFingerprint: string | null = null;
    let remoteImage: RemoteSource | undefined;
    let architecture = req.architecture || 'x86_64';
    if (source.type === 'image' && source.server) {
      if (!this.deps.imageDownloader) throw new StatusError(501, 'Images from remote servers are not supported');
      remoteImage = remoteImageOf(source as InstanceSource & { server: string }, type);
      await this.deps.imageDownloader.check(remoteImage);
    } else if (source.type === 'image') {
      const ref = source.fingerprint || source.alias;
      if (!ref) throw badRequest('Missing image alias or fingerprint in source');
      const imageProject = await this.featureProject(source.project ?? project, 'images');
      const img = source.fingerprint
        ? await this.deps.images.byFingerprint(imageProject, source.fingerprint)
        : await this.deps.images.resolve(imageProject, ref);
      if (img.type !== type) throw badRequest(`Requested image's type "${img.type}" doesn't match instance type "${type}"`);
      imageFingerprint = img.fingerprint;
      architecture = img.architecture;
      for (const [k, v] of Object.entries(img.properties)) config[`image.${k}`] ??= v;
      config['volatile.base_image'] = img.fingerprint;
    } else if (source.type === 'migration') {
      throw new StatusError(501, 'Instance source type "migration" is not supported yet');
    } else if (source.type !== 'none') {
      throw badRequest(`Unknown source type ${String(source.type)}`);
    }

    const now = new Date().toISOString();
    const record: NewInstance = {
      project,
      name,
      type,
      architecture,
      ephemeral: req.ephemeral === true,
      stateful: false,
      description: req.description ?? '',
      createdAt: now,
      lastUsedAt: '1970-01-01T00:00:00Z',
      config,
      devices,
      profiles,
    };
    const root = rootDisk((await this.expand(record)).expanded_devices);
    if (!root) throw badRequest('Failed initializing instance: Failed getting root disk: No root device could be found');
    if (!root.pool) throw badRequest('Failed initializing instance: The root disk device has no pool');
    await this.deps.pools.get(root.pool);
    await allowInstanceCreation(db, project, { ...record, imageServer: source.type === 'image' ? source.server : undefined, requested: { config: req.config ?? {}, current: {} } });
    return { project, name, record, pool: root.pool, imageFingerprint, remoteImage, start: req.start === true };
  }

  /** Downloads (or finds in the cache) a plan's remote image and fills in what a local image fills in. */
  private async fetchRemoteImage(plan: CreatePlan, onProgress?: (md: Record<string, unknown>) => void): Promise<CreatePlan> {
    const downloader = this.deps.imageDownloader;
    if (!plan.remoteImage || !downloader) return plan;
    const cfg = imageCacheConfig(await this.deps.db.config.all());
    const { record: img } = await downloader.ensure(plan.remoteImage, {
      project: await this.featureProject(plan.project, 'images'),
      setCached: true,
      preferCached: true,
      autoUpdate: cfg.autoUpdateCached,
      onProgress,
    });
    const config = { ...plan.record.config };
    for (const [k, v] of Object.entries(img.properties)) config[`image.${k}`] ??= v;
    config['volatile.base_image'] = img.fingerprint;
    return { ...plan, remoteImage: undefined, imageFingerprint: img.fingerprint, record: { ...plan.record, architecture: img.architecture, config } };
  }

  /** Runs a planned create: DB row, storage volume, driver links; everything undone on failure. */
  async create(plan: CreatePlan, onProgress?: (md: Record<string, unknown>) => void): Promise<InstanceRecord> {
    const { db, pools, drivers, events } = this.deps;
    if (plan.remoteImage) plan = await this.fetchRemoteImage(plan, onProgress);
    const r = new Reverter();
    try {
      const pool = await pools.get(plan.pool);
      const type = plan.record.type;
      const profiles = await this.profileLookup([plan.project]);
      // VMs have no id map: the guest's own kernel owns its users.
      const privileged = type === 'virtual-machine' || isTrue(this.expandWith(plan.record, profiles).expanded_config['security.privileged']);
      const idmapped = !privileged && (await this.deps.idmappedPool(pool.name));
      const map = idmapJson(this.deps.idmap);
      const config = { ...plan.record.config };
      config['volatile.uuid'] = randomUUID();
      config['volatile.uuid.generation'] = config['volatile.uuid'];
      if (!privileged) {
        config['volatile.idmap.base'] = String(this.deps.idmap.uid.hostBase);
        config['volatile.idmap.current'] = map;
        config['volatile.idmap.next'] = map;
      }
      if (type === 'container') config['volatile.last_state.idmap'] = privileged || idmapped ? '[]' : map;
      config['volatile.last_state.power'] = 'STOPPED';
      Object.assign(config, missingNicVolatile({ project: plan.project, name: plan.name, config }, this.expandWith({ ...plan.record, config }, profiles).expanded_devices));
      // Image templates for "create" render on the first start, as Incus does.
      if (plan.imageFingerprint) config['volatile.apply_template'] = 'create';

      let rec!: InstanceRecord;
      try {
        rec = await db.transaction(async (tx) => {
          // Checked again in the transaction of the insert, so that racing creates cannot both pass a limit.
          await allowInstanceCreation(tx, plan.project, plan.record);
          const created = await tx.instances.create({ ...plan.record, config });
          await tx.pools.createVolume({
            pool: pool.name,
            project: plan.project,
            name: plan.name,
            type,
            contentType: type === 'virtual-machine' ? 'block' : 'filesystem',
            description: '',
            config: {},
            createdAt: plan.record.createdAt,
          });
          return created;
        });
      } catch (err) {
        if (err instanceof ProfileMissingError) throw badRequest(err.message);
        if (String(err).includes('UNIQUE')) throw conflict(`Instance "${plan.name}" already exists`);
        throw err;
      }
      r.add(() =>
        db.transaction(async (tx) => {
          const v = await tx.pools.volumeOf(plan.project, type, plan.name);
          if (v) await tx.pools.deleteVolume(v.id);
          await tx.instances.delete(rec.id);
        }),
      );

      const sd = pools.driver(pool);
      const spec = pools.spec(pool);
      const disk = storageName(plan.project, plan.name);
      r.add(() => sd.deleteVolume(spec, type, disk));
      const rootSize = rootDisk(this.expandWith(rec, profiles).expanded_devices)?.config.size;
      let rt: InstanceRuntime | undefined;
      await makeRootVolume(this.deps, pool, rec, {
        imageFingerprint: plan.imageFingerprint,
        rootSize,
        shift: !privileged && !idmapped,
        volumePath: async () => (rt = await this.runtime(rec)).volumePath,
      });
      if (plan.imageFingerprint) {
        const img = await this.deps.images.byFingerprint(await this.featureProject(plan.project, 'images'), plan.imageFingerprint);
        await db.images.touch(img.id, new Date().toISOString());
      }
      rt ??= await this.runtime(rec);
      r.add(() => drivers.of(rec.type).detach(rec));
      await drivers.of(rt.type).attach(rt);
      r.success();
      events.lifecycle('instance-created', `/1.0/instances/${rec.name}`, rec.project);
      return rec;
    } catch (err) {
      await r.fail();
      throw err;
    }
  }

  /** Deletes a stopped instance: driver files, volume, then the row. `force` ignores security.protection.delete (a move's source, once copied). */
  async delete(rec: InstanceRecord, opts: { force?: boolean } = {}): Promise<void> {
    const { db, pools, drivers, events } = this.deps;
    if (!opts.force && isTrue((await this.expand(rec)).expanded_config['security.protection.delete'])) {
      throw badRequest('Instance is protected from being deleted');
    }
    const [st] = await drivers.states([rec]);
    if (st.pid > 0) throw badRequest('Instance is running');
    const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
    await detachInstance(this, rec);
    if (vol) {
      const pool = await pools.get(vol.pool);
      const snaps = await db.snapshots.names(rec.id);
      const disk = storageName(rec.project, rec.name);
      await deleteSnapshotVolumes(pools.driver(pool), pools.spec(pool), rec.type, disk, snaps);
      await pools.driver(pool).deleteVolume(pools.spec(pool), rec.type, disk);
    }
    await db.transaction(async (tx) => {
      if (vol) await tx.pools.deleteVolume(vol.id);
      await tx.instances.delete(rec.id);
    });
    events.lifecycle('instance-deleted', `/1.0/instances/${rec.name}`, rec.project);
  }

  /** Renames a stopped instance: volume, runtime links and row. */
  async rename(rec: InstanceRecord, newName: string): Promise<void> {
    const { db, pools, drivers, events } = this.deps;
    validateInstanceName(newName);
    if (await db.instances.get(rec.project, newName)) throw conflict(`Instance "${newName}" already exists`);
    const [st] = await drivers.states([rec]);
    if (st.pid > 0) throw badRequest('Renaming of running instance not allowed');
    const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
    const pool = await pools.get(vol.pool);
    const sd = pools.driver(pool);
    await detachInstance(this, rec);
    const [fromDisk, toDisk] = [storageName(rec.project, rec.name), storageName(rec.project, newName)];
    await sd.renameVolume(pools.spec(pool), rec.type, fromDisk, toDisk);
    await moveSnapshotVolumes(sd, pools.spec(pool), rec.type, fromDisk, toDisk);
    try {
      await db.transaction(async (tx) => {
        await tx.instances.rename(rec.id, newName);
        await tx.pools.renameVolume(vol.id, newName);
      });
    } catch (err) {
      await sd.renameVolume(pools.spec(pool), rec.type, toDisk, fromDisk);
      await moveSnapshotVolumes(sd, pools.spec(pool), rec.type, toDisk, fromDisk);
      await attachInstance(this, rec);
      throw err;
    }
    const renamed = { ...rec, name: newName };
    await this.setVolatile(renamed, 'volatile.apply_template', 'rename');
    await attachInstance(this, renamed);
    events.lifecycle('instance-renamed', `/1.0/instances/${newName}`, rec.project, { old_name: rec.name });
  }

  /** Validates and applies an update (PUT semantics) in one step. */
  async update(rec: InstanceRecord, put: Partial<InstancePut>): Promise<InstanceRecord> {
    return this.commitUpdate(rec, await this.prepareUpdate(rec, put));
  }

  /**
   * Validates a replacement of the writable fields (PUT) and returns the
   * record it would produce; volatile keys stay as the daemon set them.
   */
  async prepareUpdate(rec: InstanceRecord, put: Partial<InstancePut>): Promise<InstanceRecord> {
    const config = { ...(put.config ?? {}) };
    validateInstanceConfig(config, rec.type);
    for (const k of Object.keys(config)) if (k.startsWith('volatile.')) delete config[k];
    for (const [k, v] of Object.entries(rec.config)) if (k.startsWith('volatile.')) config[k] = v;
    const profiles = await this.profileLookup([rec.project]);
    // Before the devices are validated, as Incus: a pool that does not exist is not the message.
    const oldRoot = rootDisk(this.expandWith(rec, profiles).expanded_devices);
    const wantedRoot = rootDisk(this.expandWith({ ...rec, devices: put.devices ?? {}, profiles: put.profiles ?? rec.profiles }, profiles).expanded_devices);
    if (oldRoot && wantedRoot && oldRoot.pool !== wantedRoot.pool) throw badRequest(`Cannot update root disk device pool name to "${wantedRoot.pool}"`);
    await validateDevices(this.deps, put.devices ?? {}, {
      profile: false,
      instanceType: rec.type,
      supported: this.deps.drivers.of(rec.type).info.features.devices,
      volumeProject: await this.featureProject(rec.project, 'storage.volumes'),
      instance: { project: rec.project, name: rec.name },
    });
    const next: InstanceRecord = {
      ...rec,
      architecture: put.architecture || rec.architecture,
      config,
      devices: put.devices ?? {},
      profiles: put.profiles ?? rec.profiles,
      ephemeral: put.ephemeral ?? rec.ephemeral,
      description: put.description ?? rec.description,
    };
    for (const p of next.profiles) {
      if (!profiles(rec.project, p)) throw badRequest(`Profile "${p}" not found`);
    }
    const expanded = this.expandWith(next, profiles);
    if (!rootDisk(expanded.expanded_devices)) throw badRequest('Invalid devices: No root device could be found');
    await planNextIdmap(this, this.expandWith(rec, profiles).expanded_config, next, expanded.expanded_config);
    await allowInstanceUpdate(this.deps.db, rec.project, { ...next, requested: { config: put.config ?? {}, current: rec.config } });
    const beforeDevices = this.expandWith(rec, profiles).expanded_devices;
    for (const k of volatileToReset(next.config, beforeDevices, expanded.expanded_devices)) delete next.config[k];
    Object.assign(next.config, missingNicVolatile(next, expanded.expanded_devices));
    return next;
  }

  /** Writes a prepared update and applies what can change live. */
  async commitUpdate(rec: InstanceRecord, next: InstanceRecord): Promise<InstanceRecord> {
    const { db, events } = this.deps;
    const { expanded_config: before, expanded_devices: beforeDevices } = await this.expand(rec);
    try {
      await db.transaction((tx) => tx.instances.update(next));
    } catch (err) {
      if (err instanceof ProfileMissingError) throw badRequest(err.message);
      throw err;
    }
    try {
      await this.applyRootSize(next, rootDisk(beforeDevices)?.config.size);
    } catch (err) {
      await db.transaction((tx) => tx.instances.update(rec));
      throw err;
    }
    events.lifecycle('instance-updated', `/1.0/instances/${rec.name}`, rec.project);
    try {
      await this.applyLive(next, before, beforeDevices);
    } catch (err) {
      // Devices: a device that cannot be hot-plugged leaves the instance as it was (the driver undid its steps).
      if (err instanceof StatusError && err.status === 400) await db.transaction((tx) => tx.instances.update(rec));
      throw err;
    }
    return next;
  }

  /**
   * Pushes changed live keys (limits) to the instance when it runs, and,
   * given the expanded devices from before the change, hot-plugs/unplugs
   * the devices that differ.
   */
  async applyLive(rec: InstanceRecord, before: Record<string, string>, beforeDevices?: DevicesMap): Promise<void> {
    const expanded = await this.expand(rec);
    const after = expanded.expanded_config;
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]);
    const devicesChanged = beforeDevices !== undefined && JSON.stringify(beforeDevices) !== JSON.stringify(expanded.expanded_devices);
    if (changed.length === 0 && !devicesChanged) return;
    const [st] = await this.deps.drivers.states([rec]);
    if (st.pid <= 0) return;
    const rt = await this.runtime(rec);
    const driver = this.deps.drivers.of(rec.type);
    if (devicesChanged && driver.updateDevices) {
      await shiftAttachedVolumes(this, rt, Object.fromEntries(deviceChanges(beforeDevices, rt.expandedDevices).added));
      await driver.updateDevices(rt, beforeDevices);
    }
    if (changed.length > 0) await driver.update(rt, changed);
  }

  /** A changed root disk `size` becomes the volume's new quota (where the pool's driver has quotas). */
  private async applyRootSize(rec: InstanceRecord, before: string | undefined): Promise<void> {
    const size = rootDisk((await this.expand(rec)).expanded_devices)?.config.size;
    if ((size ?? '') === (before ?? '')) return;
    const vol = await this.deps.pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) return;
    const pool = await this.deps.pools.get(vol.pool);
    const sd = this.deps.pools.driver(pool);
    const disk = storageName(rec.project, rec.name);
    if (size) await this.deps.pools.applyQuota(pool, rec.type, disk, size);
    else await sd.setVolumeQuota?.(this.deps.pools.spec(pool), rec.type, disk, null);
  }

  /** Removes a volatile key. */
  async unsetVolatile(rec: InstanceRecord, key: string): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const fresh = await tx.instances.get(rec.project, rec.name);
      if (!fresh || !(key in fresh.config)) return;
      delete fresh.config[key];
      await tx.instances.setConfig(fresh.id, fresh.config);
    });
  }

  /** Records a volatile key (no validation: the daemon owns these). */
  async setVolatile(rec: InstanceRecord, key: string, value: string): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const fresh = await tx.instances.get(rec.project, rec.name);
      if (!fresh) return;
      fresh.config[key] = value;
      await tx.instances.setConfig(fresh.id, fresh.config);
    });
  }
}
