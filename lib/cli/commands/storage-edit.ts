/**
 * `incus storage edit` and `incus storage volume edit`: the writable
 * fields as YAML through $EDITOR (or from stdin when it is not a terminal),
 * reopened with the error on invalid input.
 */
import type { StoragePoolPut } from '../../api/storage-pool';
import type { StorageVolumePut } from '../../api/storage-volume';
import type { CliContext } from '../context';
import { runEdit } from '../edit-loop';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { processTerminal } from '../terminal';
import { sameValue } from '../writable';
import { decodeYaml, type StructSpec } from '../yaml-decode';

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
