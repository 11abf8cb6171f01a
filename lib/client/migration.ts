/**
 * Copying an instance between two servers, as Incus's client does it: the
 * source opens a migration operation and the target either dials it (pull),
 * is dialed by it (push), or both wait while this client carries the
 * websockets between them (relay, for servers that cannot reach each other).
 */
import type WebSocket from 'ws';
import type { InstancesPost } from '../api/instance';
import type { Operation as OperationData } from '../api/operation';
import type { StorageVolumePost, StorageVolumesPost } from '../api/storage-volume';
import type { IncusClient } from './client';
import type { Operation } from './operation';
import { openOperationSocket } from './ws-stream';

export type MigrationMode = 'pull' | 'push' | 'relay';

export interface InstanceMigrateArgs {
  mode: MigrationMode;
  /** Stateful (CRIU); only asked for when the instance runs. */
  live: boolean;
  instanceOnly: boolean;
  refresh: boolean;
  refreshExcludeOlder: boolean;
  allowInconsistent: boolean;
  /** Copy this snapshot of the instance (as an instance of its own). */
  snapshot?: string;
}

/** A transfer under way: the target's operation decides the outcome. */
export interface RemoteOperation {
  /** The operation whose progress to show (the target's). */
  readonly progressOf: Operation;
  /** Resolves once the target has the instance; rejects with the first failure. */
  wait(): Promise<OperationData>;
}

/** How a server is reached by another: its HTTPS addresses and certificate. */
async function connectionInfo(c: IncusClient): Promise<{ addresses: string[]; certificate: string }> {
  const env = (await c.getServer()).environment;
  const addresses = (env.addresses ?? []).map((a) => (a.includes('://') ? a : `https://${a}`));
  return { addresses, certificate: env.certificate ?? '' };
}

/** The string values of an operation's metadata: its connection secrets. */
function secretsOf(op: Operation): Record<string, string> {
  return Object.fromEntries(Object.entries(op.data.metadata ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Cancels a still running operation, ignoring failures (it may have ended). */
async function cancelQuietly(op: Operation): Promise<void> {
  await op.cancel().catch(() => undefined);
}

/** Waits for both ends; a failure of either cancels the other. */
function bothEnds(source: Operation, target: Operation): RemoteOperation {
  return {
    progressOf: target,
    wait: async () => {
      const t = target.wait();
      const s = source.wait();
      t.catch(() => cancelQuietly(source));
      s.catch(() => cancelQuietly(target));
      const [, done] = await Promise.all([s, t]);
      return done;
    },
  };
}

/** Where the source dials in push mode: the target's operation. */
interface PushTarget {
  operation: string;
  websockets: Record<string, string>;
  certificate: string;
}

/** The target end's half of the request: how it reaches the source (pull) or waits for it (push). */
interface SinkSource {
  mode: 'pull' | 'push';
  operation?: string;
  websockets?: Record<string, string>;
  certificate?: string;
}

/** How to start each end of one transfer (an instance, a custom volume). */
interface TransferEnds {
  startSource(target?: PushTarget): Promise<Operation>;
  startTarget(source: SinkSource): Promise<Operation>;
}

/** Starts both ends in the given mode; a failure while starting cancels what was started. */
async function startTransfer(source: IncusClient, target: IncusClient, ends: TransferEnds, mode: MigrationMode): Promise<RemoteOperation> {
  if (mode === 'push') {
    const info = await connectionInfo(target);
    if (info.addresses.length === 0) throw new Error("The target server isn't listening on the network");
    const targetOp = await ends.startTarget({ mode: 'push' });
    const secrets = secretsOf(targetOp);
    let lastErr: Error | undefined;
    for (const addr of info.addresses) {
      try {
        const srcOp = await ends.startSource({ operation: `${addr}/1.0/operations/${encodeURIComponent(targetOp.id)}`, websockets: secrets, certificate: info.certificate });
        return bothEnds(srcOp, targetOp);
      } catch (err) {
        lastErr = err as Error;
      }
    }
    await cancelQuietly(targetOp);
    throw lastErr ?? new Error('Failed to reach the target server');
  }
  const info = mode === 'pull' ? await connectionInfo(source) : null;
  if (info && info.addresses.length === 0) throw new Error("The source server isn't listening on the network");
  const srcOp = await ends.startSource();
  const sourceSecrets = secretsOf(srcOp);
  try {
    if (mode === 'relay') {
      const targetOp = await ends.startTarget({ mode: 'push' });
      await relay(source, srcOp, sourceSecrets, target, targetOp, secretsOf(targetOp)).catch(async (err: Error) => {
        await cancelQuietly(targetOp);
        throw err;
      });
      return bothEnds(srcOp, targetOp);
    }
    const targetOp = await ends.startTarget({
      mode: 'pull',
      operation: `${info!.addresses[0]}/1.0/operations/${encodeURIComponent(srcOp.id)}`,
      websockets: sourceSecrets,
      certificate: info!.certificate,
    });
    return bothEnds(srcOp, targetOp);
  } catch (err) {
    await cancelQuietly(srcOp);
    throw err;
  }
}

/**
 * Starts copying `req` (name, config, devices, profiles of the instance to
 * create, taken from the source instance `instanceName`) from `source` to
 * `target` in the given mode.
 */
export function migrateInstance(source: IncusClient, target: IncusClient, instanceName: string, req: InstancesPost, a: InstanceMigrateArgs): Promise<RemoteOperation> {
  const sourcePost = { migration: true, live: a.live, instance_only: a.instanceOnly, allow_inconsistent: a.allowInconsistent };
  const base = {
    ...req.source,
    type: 'migration' as const,
    live: a.live,
    instance_only: a.instanceOnly,
    refresh: a.refresh,
    refresh_exclude_older: a.refreshExcludeOlder,
    allow_inconsistent: a.allowInconsistent,
  };
  return startTransfer(source, target, {
    startSource: (t) => {
      const post = t ? { ...sourcePost, target: t } : sourcePost;
      return a.snapshot === undefined ? source.migrateInstance(instanceName, post) : source.migrateInstanceSnapshot(instanceName, a.snapshot, post);
    },
    startTarget: (src) => target.createInstance({ ...req, source: { ...base, ...src } }),
  }, a.mode);
}

export interface VolumeMigrateArgs {
  mode: MigrationMode;
  volumeOnly: boolean;
  refresh: boolean;
}

/** Starts copying custom volume `from` (on `source`) to `req` (pool, name, config of the new volume) on `target`. */
export function migrateStorageVolume(
  source: IncusClient,
  target: IncusClient,
  from: { pool: string; name: string },
  to: { pool: string; req: StorageVolumesPost },
  a: VolumeMigrateArgs,
): Promise<RemoteOperation> {
  const post: StorageVolumePost = { name: from.name, migration: true, volume_only: a.volumeOnly };
  return startTransfer(source, target, {
    startSource: (t) => source.migrateStorageVolume(from.pool, from.name, t ? { ...post, target: t } : post),
    startTarget: (src) => target.createStorageVolumeFromMigration(to.pool, { ...to.req, type: 'custom', source: { type: 'migration', volume_only: a.volumeOnly, refresh: a.refresh, ...src } }),
  }, a.mode);
}

/**
 * Relay: opens every connection on both operations and forwards frames
 * unchanged (binary stays binary, the empty text barrier stays text); when
 * one side closes, so does its partner.
 */
async function relay(
  source: IncusClient,
  srcOp: Operation,
  srcSecrets: Record<string, string>,
  target: IncusClient,
  dstOp: Operation,
  dstSecrets: Record<string, string>,
): Promise<void> {
  const names = Object.keys(dstSecrets).filter((n) => srcSecrets[n]);
  if (!names.includes('control') || !names.includes('fs')) throw new Error('Migration operations are missing their control or fs connection');
  for (const name of names) {
    const a = await openOperationSocket(source.transport, srcOp.id, srcSecrets[name]!);
    const b = await openOperationSocket(target.transport, dstOp.id, dstSecrets[name]!);
    pipeSockets(a, b);
    pipeSockets(b, a);
  }
}

/** Frames from `from` go to `to` as they came; backpressure pauses the reader. */
function pipeSockets(from: WebSocket, to: WebSocket): void {
  from.on('message', (data: Buffer, isBinary: boolean) => {
    if (to.readyState !== to.OPEN) return;
    to.send(data, { binary: isBinary });
    if (to.bufferedAmount > 4 * 1024 * 1024) {
      from.pause();
      const resume = (): void => {
        if (to.bufferedAmount > 1024 * 1024 && to.readyState === to.OPEN) setTimeout(resume, 5);
        else from.resume();
      };
      setTimeout(resume, 5);
    }
  });
  from.on('close', (code: number) => {
    if (to.readyState === to.OPEN || to.readyState === to.CONNECTING) to.close(code === 1005 || code === 1006 ? 1000 : code);
  });
  from.on('error', () => to.terminate());
}
