/**
 * `POST /1.0/instances/{name}/rebuild`: wipes a stopped instance's root
 * volume and makes it again from an image (the same one or another) or
 * empty, as Incus's rebuildCommon does. The row, devices, profiles and
 * snapshots stay; image.* keys and volatile.base_image follow the new
 * source; the id map keys are reset to what a fresh volume carries.
 */
import type { InstanceSource } from '../../api/instance';
import type { InstanceRecord } from '../db/instances';
import type { ImageRecord } from '../db/images';
import { badRequest, StatusError } from '../errors';
import { imageCacheConfig } from '../images/remote/config';
import { storageName } from '../storage/volume-names';
import { isTrue } from './config-keys';
import { rootDisk } from './expand';
import { idmapJson } from './idmap';
import { type InstanceManager, remoteImageOf } from './manager';
import { makeRootVolume } from './root-volume';

/** The image a rebuild source names (downloaded first when it is on another server); null for `none`. */
export async function rebuildImage(
  m: InstanceManager,
  rec: InstanceRecord,
  source: InstanceSource,
  onProgress?: (md: Record<string, unknown>) => void,
): Promise<ImageRecord | null> {
  if (source.type === 'none') return null;
  if (source.type !== 'image') throw badRequest(`Unknown source type ${String(source.type)}`);
  const imageProject = await m.featureProject(source.project ?? rec.project, 'images');
  let img: ImageRecord;
  if (source.server) {
    const downloader = m.deps.imageDownloader;
    if (!downloader) throw new StatusError(501, 'Images from remote servers are not supported');
    const cfg = imageCacheConfig(await m.deps.db.config.all());
    const remote = remoteImageOf({ ...source, server: source.server }, rec.type);
    img = (await downloader.ensure(remote, { project: imageProject, setCached: true, preferCached: true, autoUpdate: cfg.autoUpdateCached, onProgress })).record;
  } else {
    const ref = source.fingerprint || source.alias;
    if (!ref) throw badRequest('Image not provided for instance rebuild');
    img = source.fingerprint ? await m.deps.images.byFingerprint(imageProject, source.fingerprint) : await m.deps.images.resolve(imageProject, ref);
  }
  if (img.type !== rec.type) throw badRequest(`Requested image's type "${img.type}" doesn't match instance type "${rec.type}"`);
  return img;
}

/** The instance's own config after a rebuild from img (or empty when null). */
function rebuiltConfig(rec: InstanceRecord, img: ImageRecord | null, idmapKeys: Record<string, string | null>): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec.config)) {
    if (k.startsWith('image.') || k === 'volatile.base_image' || k === 'volatile.apply_template') continue;
    config[k] = v;
  }
  if (img) {
    for (const [k, v] of Object.entries(img.properties)) config[`image.${k}`] = v;
    config['volatile.base_image'] = img.fingerprint;
    if (config['volatile.uuid']) config['volatile.uuid.generation'] = config['volatile.uuid'];
    // The new rootfs gets the image's "create" templates on its next start, as a new instance would.
    config['volatile.apply_template'] = 'create';
  }
  for (const [k, v] of Object.entries(idmapKeys)) {
    if (v === null) delete config[k];
    else config[k] = v;
  }
  return config;
}

/** Rebuilds a stopped instance (the caller holds its lock). */
export async function rebuildInstance(m: InstanceManager, rec: InstanceRecord, img: ImageRecord | null): Promise<InstanceRecord> {
  const { db, pools, drivers } = m.deps;
  const [st] = await drivers.states([rec]);
  if (st.pid > 0) throw badRequest('Instance must be stopped to be rebuilt');
  const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
  if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
  const pool = await pools.get(vol.pool);
  const expanded = await m.expand(rec);
  const privileged = rec.type === 'virtual-machine' || isTrue(expanded.expanded_config['security.privileged']);
  const idmapped = !privileged && m.deps.idmappedPool(pool.name);
  // A fresh volume is unshifted (idmapped mounts) or shifted to today's host map.
  const idmapKeys: Record<string, string | null> =
    rec.type === 'container' ? { 'volatile.last_state.idmap': privileged || idmapped ? '[]' : idmapJson(m.deps.idmap) } : {};

  const sd = pools.driver(pool);
  await sd.deleteVolume(pools.spec(pool), rec.type, storageName(rec.project, rec.name));
  const next = { ...rec, config: rebuiltConfig(rec, img, idmapKeys) };
  await makeRootVolume(m.deps, pool, rec, {
    imageFingerprint: img?.fingerprint ?? null,
    rootSize: rootDisk(expanded.expanded_devices)?.config.size,
    shift: !privileged && !idmapped,
    volumePath: async () => (await m.runtime(next)).volumePath,
  });
  await db.transaction(async (tx) => {
    await tx.instances.setConfig(rec.id, next.config);
    if (img) await tx.images.touch(img.id, new Date().toISOString());
  });
  return next;
}
