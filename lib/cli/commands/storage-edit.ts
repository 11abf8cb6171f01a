/**
 * `incus storage edit` and `incus storage volume edit`: the writable
 * fields as YAML through $EDITOR (or from stdin when it is not a terminal),
 * reopened with the error on invalid input.
 */
import type { StoragePoolPut } from '../../api/storage-pool';
import type { StorageVolumePut, StorageVolumeSnapshotPut } from '../../api/storage-volume';
import type { CliContext } from '../context';
import { runEdit } from '../edit-loop';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { processTerminal } from '../terminal';
import { sameValue } from '../writable';
import { volumeSnapshotShape } from '../format/config-shapes';
import { orderKeys } from '../format/go-order';
import { decodeYaml, STORAGE_VOLUME_SNAPSHOT_PUT, type StructSpec } from '../yaml-decode';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

/** api.StoragePoolPut and api.StorageVolumePut have the same two fields. */
const PUT_SPEC: StructSpec = { name: 'api.StoragePoolPut', fields: { config: 'stringMap', description: 'string' } };

const HELP = [
  '### The {what} as YAML; lines starting with "#" are ignored.',
  '### Change config or description and save to apply them; the other',
  '### fields are shown for reference only.',
].join('\n');

function writable(v: { config?: Record<string, string>; description?: string }): StoragePoolPut {
  return { config: { ...(v.config ?? {}) }, description: v.description ?? '' };
}

async function edit<T extends object>(
  ctx: CliContext,
  what: string,
  load: () => Promise<{ value: T & StoragePoolPut; etag?: string }>,
  save: (put: StorageVolumePut, etag?: string) => Promise<void>,
): Promise<number> {
  const term = processTerminal(ctx.io.env);
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const session = async () => {
    const { value, etag } = await load();
    const current = writable(value);
    return {
      text: `${HELP.replace('{what}', what)}\n\n${renderYaml(value)}`,
      decode: (text: string) => decodeYaml<StoragePoolPut>(text, PUT_SPEC),
      unchanged: (put: StoragePoolPut) => sameValue(put.config, current.config) && sameValue(put.description, current.description),
      save: (put: StoragePoolPut) => save(put, etag),
    };
  };
  await runEdit(io, term, session, (text) => save(decodeYaml<StoragePoolPut>(text, PUT_SPEC)));
  return 0;
}

export function editPool(ctx: CliContext, arg: string): Promise<number> {
  const name = localName(arg);
  const client = ctx.client();
  return edit(ctx, 'storage pool', () => api().getStoragePool(client, name), (put, etag) => api().updateStoragePool(client, name, put, { etag }));
}

export function editVolume(ctx: CliContext, poolArg: string, type: string, name: string): Promise<number> {
  const pool = localName(poolArg);
  const client = ctx.client();
  return edit(
    ctx,
    'storage volume',
    () => api().getStorageVolume(client, pool, type, name),
    (put, etag) => api().updateStorageVolume(client, pool, type, name, put, { etag }),
  );
}

/** `storage volume edit POOL VOLUME/SNAPSHOT`: description and expiry of a snapshot (api.StorageVolumeSnapshotPut). */
export async function editVolumeSnapshot(ctx: CliContext, poolArg: string, type: string, name: string, snap: string): Promise<number> {
  const pool = localName(poolArg);
  const client = ctx.client();
  const term = processTerminal(ctx.io.env);
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const decode = (text: string) => decodeYaml<StorageVolumeSnapshotPut>(text, STORAGE_VOLUME_SNAPSHOT_PUT);
  const save = (put: StorageVolumeSnapshotPut, etag?: string) => api().updateVolumeSnapshot(client, pool, type, name, snap, put, { etag });
  const session = async () => {
    const { value, etag } = await api().getVolumeSnapshot(client, pool, type, name, snap);
    return {
      text: `${HELP.replace('{what}', 'storage volume snapshot')}\n\n${renderYaml(orderKeys(value, volumeSnapshotShape))}`,
      decode,
      unchanged: (put: StorageVolumeSnapshotPut) => sameValue(put.description, value.description) && sameValue(put.expires_at, value.expires_at),
      save: (put: StorageVolumeSnapshotPut) => save(put, etag),
    };
  };
  await runEdit(io, term, session, (text) => save(decode(text)));
  return 0;
}
