/**
 * `incus storage volume copy|move [remote:]pool/vol [remote:]pool/vol`
 * across servers, as Incus's CLI does it: the new volume is described
 * from the source's (content type, config, description), migrated in
 * pull, push or relay mode with the target's progress on one line; a move
 * deletes the source only once the target has the volume.
 */
import type { StorageVolume } from '../../api/storage-volume';
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
}

/** `[remote:]pool/volume` with its remote (the default remote when none is written). */
export function poolVolumeArg(ctx: CliContext, arg: string): PoolVolumeArg {
  const { remote, name: rest } = splitRemote(ctx, arg);
  const [pool, name, extra] = rest.split('/');
  if (!pool || !name || extra !== undefined) throw new Error(`Invalid argument "${arg}": expected <pool>/<volume>`);
  return { remote, pool, name };
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
  const { getStorageVolume, deleteStorageVolume } = require('../../client/storage') as typeof import('../../client/storage');
  const vol: StorageVolume = (await getStorageVolume(source, a.pool, 'custom', a.name)).value;
  const { migrateStorageVolume } = require('../../client/migration') as typeof import('../../client/migration');
  const rop = await migrateStorageVolume(
    source,
    target,
    { pool: a.pool, name: a.name },
    { pool: b.pool, req: { name: b.name, type: 'custom', content_type: vol.content_type, config: vol.config, description: vol.description } },
    { mode, volumeOnly: f.volumeOnly === true, refresh: f.refresh === true },
  );
  const line = new ProgressLine(ctx.io.out, 'Copying the storage volume: %s', ctx.globals.quiet);
  await waitTransferShowingProgress(rop, line);
  if (move) await deleteStorageVolume(source, a.pool, 'custom', a.name);
}
