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
import { registerInstance } from '../instance/register';
import { Reverter } from '../revert';
import type { DaemonState } from '../state';
import { storageName } from '../storage/volume-names';
import { MigrationConns } from './conns';
import { receiveHeader, receiveResult, sendHeader, sendResult } from './control';
import { idmapFromHeader } from './idmap-header';
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
  conns: MigrationConns;
}

/** Volatile keys a migrated instance keeps from the request (its MAC addresses, its image). */
const keptVolatile = (k: string): boolean => k === 'volatile.base_image' || /^volatile\.[^.]+\.hwaddr$/.test(k);

/** Checks the request (400/404/409/501) and sets up the connections; nothing is created yet. */
export function planMigrationSink(s: DaemonState, project: string, req: InstancesPost): SinkPlan {
  const src = req.source!;
  const mode = src.mode || 'pull';
  if (mode !== 'pull' && mode !== 'push') throw new StatusError(501, `Mode "${mode}" not implemented`);
  const type = req.type || 'container';
  if (type !== 'container' && type !== 'virtual-machine') throw badRequest(`Instance type not supported "${String(type)}"`);
  if (src.live) throw badRequest('Live migration is not supported on this server: use a stateless transfer');
  const m = s.instances;
  const name = req.name ?? '';
  const found = name ? s.db.instances.get(project, name) : undefined;
  let existing: InstanceRecord | null = null;
  let create: CreatePlan | null = null;
  if (src.refresh && found) {
    if (found.type !== type) throw conflict(`Instance "${name}" already exists with a different type`);
    existing = found;
  } else {
    const config = Object.fromEntries(Object.entries(req.config ?? {}).filter(([k]) => !k.startsWith('volatile.') || keptVolatile(k)));
    create = m.planCreate(project, { ...req, type, config: Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.'))), source: { type: 'none' } });
    const kept = Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith('volatile.')));
    if (src['base-image']) kept['volatile.base_image'] = src['base-image'];
    create.record = { ...create.record, architecture: req.architecture || create.record.architecture, config: { ...create.record.config, ...kept } };
  }
  const names = ['control', 'fs'];
  let conns: MigrationConns;
  if (mode === 'push') conns = MigrationConns.incoming(names);
  else {
    if (!src.operation) throw badRequest('Missing migration source operation URL');
    conns = MigrationConns.outgoing(names, {
      operation: src.operation,
      secrets: src.websockets ?? {},
      certificate: src.certificate || undefined,
      certPem: s.keypair.certPem,
      keyPem: s.keypair.keyPem,
    });
  }
  return {
    project,
    name: existing?.name ?? create!.name,
    existing,
    create,
    push: mode === 'push',
    instanceOnly: src.instance_only === true,
    refreshExcludeOlder: src.refresh_exclude_older === true,
    conns,
  };
}

/** Runs the target side; resolves with the instance once its rows are in. */
export async function runMigrationSink(s: DaemonState, plan: SinkPlan, report?: Report, signal?: AbortSignal): Promise<InstanceRecord> {
  const m = s.instances;
  const { conns } = plan;
  const r = new Reverter();
  const onAbort = (): void => conns.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  let ctrl;
  try {
    ctrl = await conns.channel('control');
  } catch (err) {
    conns.terminate();
    throw new Error(`Failed waiting for migration control connection on target: ${(err as Error).message}`);
  }
  try {
    const fs = await conns.channel('fs', 10_000);
    const offer = await receiveHeader(ctrl);
    const record = plan.existing ?? plan.create!.record;
    const poolName = plan.existing ? s.pools.volumeOf(record.project, record.type, record.name)?.pool : plan.create!.pool;
    if (!poolName) throw new StatusError(500, `Instance "${record.name}" has no root volume`);
    const pool = s.pools.get(poolName);
    const contentType = record.type === 'virtual-machine' ? 'block' : 'filesystem';
    const vol: VolumeRef = {
      sd: s.pools.driver(pool),
      spec: s.pools.spec(pool),
      type: record.type,
      name: storageName(plan.project, plan.name),
      contentType,
      label: plan.name,
    };
    const refresh = plan.existing !== null;
    const types = matchTypes({ ...offer, refresh }, fallbackType(contentType), poolMigrationTypes(vol.sd.info, pool.config, contentType));
    s.log.info('Migration transport negotiated', { instance: plan.name, side: 'target', type: FS_TYPE_NAMES[types[0]!.fs] ?? String(types[0]!.fs), features: types[0]!.features.join(',') });
    const offered = plan.instanceOnly ? [] : (offer.snapshots ?? []);
    let wanted = offered;
    if (plan.existing) {
      const have = s.db.snapshots.list(plan.existing.id);
      const cmp = compareSnapshots(
        offered.map((x) => ({ name: x.name, created: x.creation_date ?? 0 })),
        have.map((x) => ({ name: x.name, created: Math.floor(Date.parse(x.createdAt) / 1000) })),
        plan.refreshExcludeOlder,
      );
      for (const name of cmp.remove) await s.snapshots.delete(plan.existing, have.find((x) => x.name === name)!);
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
    // The source never speaks again unless it failed: anything on control now ends the transfer.
    const verdict = receiveResult(ctrl, 'source');
    const aborted = verdict.then(
      () => {
        throw new Error('Migration source ended the transfer early');
      },
      (err: Error) => {
        throw err;
      },
    );
    const transfer = receiveVolume(fs, vol, {
      type: types[0]!,
      snapshots: wanted.map((x) => x.name),
      indexVersion: answer.indexHeaderVersion ?? 0,
      refresh,
      finalSync: running && record.type === 'container' && types[0]!.fs === FsType.RSYNC,
      progress: new TransferProgress(report),
      r,
    });
    transfer.catch(() => undefined);
    aborted.catch(() => {
      fs.terminate();
    });
    await Promise.race([transfer, aborted]);
    const snapRows = wanted.map((x) => snapshotFromProto(x, record.architecture, record.description));
    let rec: InstanceRecord;
    if (plan.existing) {
      rec = plan.existing;
      s.db.transaction(() => {
        for (const row of snapRows) s.db.snapshots.create({ ...row, instanceId: rec.id });
      });
    } else {
      const config = copyVolatile(m, plan.create!);
      if (record.type === 'container' && offer.idmap?.length) config['volatile.last_state.idmap'] = idmapFromHeader(offer.idmap);
      else if (record.type === 'container') config['volatile.last_state.idmap'] = '[]';
      rec = await registerInstance(m, r, pool, { ...plan.create!.record, config }, snapRows);
    }
    await sendResult(ctrl, null);
    r.success();
    return rec;
  } catch (err) {
    await sendResult(ctrl, err as Error);
    conns.terminate();
    await r.fail();
    throw new Error(`Error transferring instance data: Failed migration on target: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    conns.close();
  }
}
