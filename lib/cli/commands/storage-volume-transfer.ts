/**
 * `incus storage volume copy|move [remote:]pool/vol [remote:]pool/vol`
 * across servers, as Incus's CLI does it: the new volume is described
 * from the source's (content type, config, description), migrated in
 * pull, push or relay mode with the target's progress on one line; a move
 * deletes the source only once the target has the volume.
 */
import type { StorageVolume } from '../../api/storage-volume';
import type { IncusClient } from '../../client/client';
import type { MigrationMode } from '../../client/migration';
import type { CliContext } from '../context';
import { ProgressLine, waitTransferShowingProgress } from '../progress';
import { connectIncus, serverAddress, splitRemote } from '../remotes/connect';

export interface VolumeTransferFlags {
  mode?: string;
  volumeOnly?: boolean;
  refresh?: boolean;
  targetProject?: string;
}

export interface PoolVolumeArg {
  remote: string;
  pool: string;
  name: string;
  /** `pool/volume/snapshot` (a copy's source only). */
  snapshot?: string;
}

/** `[remote:]pool/volume`, or with `snapshotOk` `[remote:]pool/volume[/snapshot]`, with its remote (the default remote when none is written). */
export function poolVolumeArg(ctx: CliContext, arg: string, snapshotOk = false): PoolVolumeArg {
  const { remote, name: rest } = splitRemote(ctx, arg);
  const [pool, name, snapshot, extra] = rest.split('/');
  if (!pool || !name || (snapshot !== undefined && (!snapshotOk || !snapshot)) || extra !== undefined) {
    throw new Error(`Invalid argument "${arg}": expected <pool>/<volume>${snapshotOk ? '[/<snapshot>]' : ''}`);
  }
  return snapshot === undefined ? { remote, pool, name } : { remote, pool, name, snapshot };
}

/**
 * What the new volume is made from (Incus's CLI): the source volume's
 * content type, config and description, a snapshot's config and
 * description when copying one; `name` as the server reads it
 * (`<volume>/<snapshot>` for a snapshot).
 */
export async function describeSource(source: IncusClient, a: PoolVolumeArg): Promise<{ name: string; content_type: string; config: Record<string, string>; description: string }> {
  const { getStorageVolume, getVolumeSnapshot } = require('../../client/storage') as typeof import('../../client/storage');
  const vol: StorageVolume = (await getStorageVolume(source, a.pool, 'custom', a.name)).value;
  if (a.snapshot === undefined) return { name: a.name, content_type: vol.content_type, config: vol.config, description: vol.description };
  const snap = (await getVolumeSnapshot(source, a.pool, 'custom', a.name, a.snapshot)).value;
  return { name: `${a.name}/${a.snapshot}`, content_type: vol.content_type, config: snap.config, description: snap.description };
}

/** A copy inside one server: POST .../volumes with `source.type: copy` (source.project when the target project differs). */
export async function copyVolumeLocally(ctx: CliContext, a: PoolVolumeArg, b: PoolVolumeArg, f: VolumeTransferFlags): Promise<void> {
  const client = ctx.client();
  const src = await describeSource(client, a);
  const target = f.targetProject ? client.useProject(f.targetProject) : client;
  const { createStorageVolume } = require('../../client/storage') as typeof import('../../client/storage');
  await createStorageVolume(target, b.pool, {
    name: b.name,
    type: 'custom',
    content_type: src.content_type,
    config: src.config,
    description: src.description,
    source: {
      name: src.name,
      pool: a.pool,
      type: 'copy',
      volume_only: f.volumeOnly === true,
      refresh: f.refresh === true,
      ...(f.targetProject ? { project: client.project ?? 'default' } : {}),
    },
  });
}

/** Whether the two arguments name different servers (a migration) rather than one (a local copy). */
export function acrossServers(ctx: CliContext, a: PoolVolumeArg, b: PoolVolumeArg): boolean {
  return a.remote !== b.remote && serverAddress(ctx, a.remote) !== serverAddress(ctx, b.remote);
}

/** Copies (or moves) a custom volume to another server. */
export async function transferVolume(ctx: CliContext, a: PoolVolumeArg, b: PoolVolumeArg, f: VolumeTransferFlags, move: boolean): Promise<void> {
  const mode = (f.mode ?? 'pull') as MigrationMode;
  if (!['pull', 'push', 'relay'].includes(mode)) throw new Error(`Invalid transfer mode "${mode}" (must be pull, push or relay)`);
  if (move && f.refresh) throw new Error('The --refresh flag cannot be used with move');
  const source = connectIncus(ctx, a.remote);
  let target = connectIncus(ctx, b.remote);
  if (f.targetProject) target = target.useProject(f.targetProject);
  const { deleteStorageVolume } = require('../../client/storage') as typeof import('../../client/storage');
  const { name, ...vol } = await describeSource(source, a);
  const { migrateStorageVolume } = require('../../client/migration') as typeof import('../../client/migration');
  const rop = await migrateStorageVolume(
    source,
    target,
    { pool: a.pool, name },
    { pool: b.pool, req: { name: b.name, type: 'custom', ...vol } },
    { mode, volumeOnly: f.volumeOnly === true, refresh: f.refresh === true },
  );
  const line = new ProgressLine(ctx.io.out, 'Copying the storage volume: %s', ctx.globals.quiet);
  await waitTransferShowingProgress(rop, line);
  if (move) await deleteStorageVolume(source, a.pool, 'custom', a.name);
}
