/**
 * `incus config show|get|set|unset|edit INSTANCE/SNAPSHOT`: a snapshot's
 * fields. Only `expires_at` is writable (as a property); its config is the
 * config of the moment it was taken, readable but never set.
 */
import type { InstanceSnapshotPut } from '../../api/instance-snapshot';
import type { CliContext } from '../context';
import { snapshotEditText, snapshotShowText } from '../config-text';
import { runEdit } from '../edit-loop';
import { getProperty, setProperties, unsetProperties } from '../properties';
import type { Terminal } from '../terminal';
import { sameValue } from '../writable';
import { decodeYaml, INSTANCE_SNAPSHOT, INSTANCE_SNAPSHOT_PUT } from '../yaml-decode';

type SnapshotsApi = typeof import('../../client/snapshots');
const snapshotsApi = (): SnapshotsApi => require('../../client/snapshots') as SnapshotsApi;

/** An instance and one of its snapshots, from a `NAME/SNAP` argument (remote already stripped). */
export interface SnapshotRef {
  instance: string;
  snapshot: string;
}

/** The snapshot an `INSTANCE/SNAPSHOT` argument names, or null for a plain instance. */
export function snapshotRef(name: string): SnapshotRef | null {
  const slash = name.indexOf('/');
  if (slash < 0) return null;
  return { instance: name.slice(0, slash), snapshot: name.slice(slash + 1) };
}

const shown = (ref: SnapshotRef): string => `${ref.instance}/${ref.snapshot}`;

/** `config show INSTANCE/SNAPSHOT [--expanded]`. */
export async function showSnapshot(ctx: CliContext, ref: SnapshotRef, expanded: boolean): Promise<number> {
  ctx.out(snapshotShowText(await snapshotsApi().getSnapshot(ctx.client(), ref.instance, ref.snapshot), expanded));
  return 0;
}

/** `config get INSTANCE/SNAPSHOT KEY [--expanded|--property]`. */
export async function getSnapshotKey(ctx: CliContext, ref: SnapshotRef, key: string, flags: { expanded?: boolean; property?: boolean }): Promise<number> {
  const snap = await snapshotsApi().getSnapshot(ctx.client(), ref.instance, ref.snapshot);
  if (flags.property) {
    try {
      ctx.out(`${getProperty(snap, INSTANCE_SNAPSHOT, key)}\n`);
    } catch (err) {
      throw new Error(`The property ${JSON.stringify(key)} does not exist on the instance snapshot ${shown(ref)}: ${(err as Error).message}`);
    }
    return 0;
  }
  const config = flags.expanded ? snap.expanded_config : snap.config;
  ctx.out(`${config?.[key] ?? ''}\n`);
  return 0;
}

/**
 * `config set|unset INSTANCE/SNAPSHOT ... --property`: changes the writable
 * part and PUTs it with its ETag. Without `--property` there is nothing a
 * snapshot lets you set.
 */
export async function changeSnapshot(ctx: CliContext, ref: SnapshotRef, property: boolean, change: (put: InstanceSnapshotPut) => void): Promise<number> {
  if (!property) throw new Error('There is no config key to set on an instance snapshot.');
  const api = snapshotsApi();
  const client = ctx.client();
  const { value, etag } = await api.getSnapshotWithEtag(client, ref.instance, ref.snapshot);
  const put: InstanceSnapshotPut = { expires_at: value.expires_at };
  change(put);
  await api.updateSnapshot(client, ref.instance, ref.snapshot, put, { etag });
  return 0;
}

/** `config set INSTANCE/SNAPSHOT key=value... --property`. */
export function setSnapshotKeys(ctx: CliContext, ref: SnapshotRef, values: Record<string, string>, property: boolean): Promise<number> {
  return changeSnapshot(ctx, ref, property, (put) => setProperties(put, INSTANCE_SNAPSHOT_PUT, values));
}

/** `config unset INSTANCE/SNAPSHOT key... --property`. */
export function unsetSnapshotKeys(ctx: CliContext, ref: SnapshotRef, keys: readonly string[], property: boolean): Promise<number> {
  return changeSnapshot(ctx, ref, property, (put) => unsetProperties(put, INSTANCE_SNAPSHOT_PUT, keys));
}

/** `config edit INSTANCE/SNAPSHOT`: YAML from stdin, or the editor on the snapshot. */
export async function editSnapshot(ctx: CliContext, ref: SnapshotRef, term: Terminal): Promise<number> {
  const api = snapshotsApi();
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const decode = (text: string) => decodeYaml<InstanceSnapshotPut>(text, INSTANCE_SNAPSHOT_PUT);
  await runEdit(
    io,
    term,
    async () => {
      const { value, etag } = await api.getSnapshotWithEtag(client, ref.instance, ref.snapshot);
      return {
        text: snapshotEditText(value),
        decode,
        unchanged: (put: InstanceSnapshotPut) => sameValue(put.expires_at, value.expires_at),
        save: (put: InstanceSnapshotPut) => api.updateSnapshot(client, ref.instance, ref.snapshot, put, { etag }),
      };
    },
    (text) => api.updateSnapshot(client, ref.instance, ref.snapshot, decode(text)),
  );
  return 0;
}
