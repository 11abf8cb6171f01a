/**
 * The receiving side of an instance migration (`POST /1.0/instances` with
 * `source.type: migration`): planned and checked before the operation
 * starts; then read the source's offer, answer with the transport and the
 * snapshots wanted (a refresh asks only for what differs), receive the
 * volume and add the rows last, so that a failure at any point, the source
 * vanishing included, leaves no instance and no volume behind.
 */
import type { InstancesPost } from '../../api/instance';
import type { InstanceRecord } from '../db/instances';
import { badRequest, conflict, StatusError } from '../errors';
import { copyVolatile } from '../instance/copy';
import type { CreatePlan } from '../instance/manager';
import { attachInstance } from '../instance/links';
import { registerInstance } from '../instance/register';
import { Reverter } from '../revert';
import type { DaemonState } from '../state';
import { storageName } from '../storage/volume-names';
import { connsFor, type MigrationConns } from './conns';
import { receiveHeader, sendHeader } from './control';
import { receiveUnlessSourceFails, sinkSession } from './session';
import { idmapFromHeader } from './idmap-header';
import { volumeRowsFromIndex } from './index-volume';
import { TransferProgress, type Report } from './progress';
import { CriuType, FS_TYPE_NAMES, FsType, type MigrationHeader } from './proto';
import { compareSnapshots, snapshotFromProto } from './snapshots';
import { INDEX_HEADER_VERSION, fallbackType, matchTypes, poolMigrationTypes, typesToHeader } from './types';
import { receiveVolume, type VolumeRef } from './volume-transfer';

/** A checked migration target. */
export interface SinkPlan {
  project: string;
  name: string;
  /** The instance to refresh, or the plan of the one to create. */
  existing: InstanceRecord | null;
  create: CreatePlan | null;
  push: boolean;
  instanceOnly: boolean;
  refreshExcludeOlder: boolean;
  /** A move between cluster members: `existing` is another member's instance whose data comes here whole. */
  move: boolean;
  conns: MigrationConns;
}

/** Volatile keys a migrated instance keeps from the request (its MAC addresses, its image). */
const keptVolatile = (k: string): boolean => k === 'volatile.base_image' || /^volatile\.[^.]+\.hwaddr$/.test(k);

/** Checks the request (400/404/409/501) and sets up the connections; nothing is created yet. */
export async function planMigrationSink(s: DaemonState, project: string, req: InstancesPost): Promise<SinkPlan> {
  const src = req.source!;
  const mode = src.mode || 'pull';
  if (mode !== 'pull' && mode !== 'push') throw new StatusError(501, `Mode "${mode}" not implemented`);
  const type = req.type || 'container';
  if (type !== 'container' && type !== 'virtual-machine') throw badRequest(`Instance type not supported "${String(type)}"`);
  if (src.live) throw badRequest('Live migration is not supported on this server: use a stateless transfer');
  const m = s.instances;
  const name = req.name ?? '';
  const found = name ? await s.db.instances.get(project, name) : undefined;
  let existing: InstanceRecord | null = null;
  let create: CreatePlan | null = null;
  if (src.refresh && found) {
    if (found.type !== type) throw conflict(`Instance "${name}" already exists with a different type`);
    const [st] = await s.drivers.states([found]);
    if ((st?.pid ?? 0) > 0) throw new StatusError(500, 'Failed getting exclusive access to instance: Instance is running');
    existing = found;
  } else {
    const config = Object.fromEntries(Object.entries(req.config ?? {}).filter(([k]) => !k.startsWith('volatile.') || keptVolatile(k)));
    create = await m.planCreate(project, { ...req, type, config: Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.'))), source: { type: 'none' } });
    const kept = Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith('volatile.')));
    if (src['base-image']) kept['volatile.base_image'] = src['base-image'];
    create.record = { ...create.record, architecture: req.architecture || create.record.architecture, config: { ...create.record.config, ...kept } };
  }
  if (mode === 'pull' && !src.operation) throw badRequest('Missing migration source operation URL');
  const conns = connsFor(['control', 'fs'], mode === 'push' ? null : src, s.keypair);
  return {
    project,
    name: existing?.name ?? create!.name,
    existing,
    create,
    push: mode === 'push',
    instanceOnly: src.instance_only === true,
    refreshExcludeOlder: src.refresh_exclude_older === true,
    move: false,
    conns,
  };
}

/**
 * The target side of a move between cluster members: the instance (a row
 * of the cluster's database, held by another member) receives its volume
 * and snapshots here; the source member dials in (push).
 */
export function planMemberMoveSink(rec: InstanceRecord, conns: MigrationConns): SinkPlan {
  return { project: rec.project, name: rec.name, existing: rec, create: null, push: true, instanceOnly: false, refreshExcludeOlder: false, move: true, conns };
}

/** Runs the target side; resolves with the instance once its rows are in. */
export async function runMigrationSink(s: DaemonState, plan: SinkPlan, report?: Report, signal?: AbortSignal): Promise<InstanceRecord> {
  const m = s.instances;
  const r = new Reverter();
  return sinkSession(plan.conns, signal, 'Error transferring instance data', () => r.fail(), async (ctrl, fs) => {
    const offer = await receiveHeader(ctrl);
    const record = plan.existing ?? plan.create!.record;
    const poolName = plan.existing ? (await s.pools.volumeOf(record.project, record.type, record.name))?.pool : plan.create!.pool;
    if (!poolName) throw new StatusError(500, `Instance "${record.name}" has no root volume`);
    const pool = await s.pools.get(poolName);
    if (!pool.onMember) throw new StatusError(500, `Storage pool "${poolName}" is not available on this member`);
    const contentType = record.type === 'virtual-machine' ? 'block' : 'filesystem';
    const vol: VolumeRef = {
      sd: s.pools.driver(pool),
      spec: s.pools.spec(pool),
      type: record.type,
      name: storageName(plan.project, plan.name),
      contentType,
      label: plan.name,
    };
    const refresh = plan.existing !== null && !plan.move;
    const types = matchTypes({ ...offer, refresh }, fallbackType(contentType), poolMigrationTypes(vol.sd.info, pool.config, contentType));
    s.log.info('Migration transport negotiated', { instance: plan.name, side: 'target', type: FS_TYPE_NAMES[types[0]!.fs] ?? String(types[0]!.fs), features: types[0]!.features.join(',') });
    const offered = plan.instanceOnly ? [] : (offer.snapshots ?? []);
    let wanted = offered;
    if (refresh) {
      const have = await s.db.snapshots.list(plan.existing!.id);
      const cmp = compareSnapshots(
        offered.map((x) => ({ name: x.name, created: x.creation_date ?? 0 })),
        have.map((x) => ({ name: x.name, created: Math.floor(Date.parse(x.createdAt) / 1000) })),
        plan.refreshExcludeOlder,
      );
      for (const name of cmp.remove) await s.snapshots.delete(plan.existing!, have.find((x) => x.name === name)!);
      wanted = offered.filter((x) => cmp.sync.includes(x.name));
    }
    const running = offer.criu === CriuType.NONE;
    const answer: MigrationHeader = {
      ...typesToHeader(types),
      indexHeaderVersion: Math.min(offer.indexHeaderVersion ?? 0, INDEX_HEADER_VERSION),
      snapshotNames: wanted.map((x) => x.name),
      snapshots: wanted,
      refresh,
      predump: false,
      ...(running ? { criu: CriuType.NONE } : {}),
    };
    await sendHeader(ctrl, answer);
    const transfer = receiveVolume(fs, vol, {
      type: types[0]!,
      snapshots: wanted.map((x) => x.name),
      indexVersion: answer.indexHeaderVersion ?? 0,
      refresh,
      finalSync: running && record.type === 'container' && types[0]!.fs === FsType.RSYNC,
      progress: new TransferProgress(report),
      r,
    });
    // The source never speaks again unless it failed: anything on control now ends the transfer.
    await receiveUnlessSourceFails(ctrl, fs, transfer);
    const volumeRows = volumeRowsFromIndex(await transfer);
    const snapRows = wanted.map((x) => snapshotFromProto(x, record.architecture, record.description));
    let rec: InstanceRecord;
    if (plan.move) {
      // The rows are the cluster's already: the instance now lives here.
      rec = { ...plan.existing!, local: true };
      await attachInstance(m, rec);
      await s.db.transaction((tx) => tx.instances.setNode(rec.id, s.db.node.id));
      rec = (await s.db.instances.get(rec.project, rec.name)) ?? rec;
    } else if (plan.existing) {
      rec = plan.existing;
      await s.db.transaction(async (tx) => {
        for (const row of snapRows) await tx.snapshots.create({ ...row, instanceId: rec.id }, volumeRows?.snapshots.get(row.name));
      });
    } else {
      const config = await copyVolatile(m, plan.create!);
      if (record.type === 'container' && offer.idmap?.length) config['volatile.last_state.idmap'] = idmapFromHeader(offer.idmap);
      else if (record.type === 'container') config['volatile.last_state.idmap'] = '[]';
      rec = await registerInstance(m, r, pool, { ...plan.create!.record, config }, snapRows, volumeRows);
    }
    r.success();
    return rec;
  });
}
