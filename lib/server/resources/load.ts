/** Load (`load`): /proc/loadavg and the number of processes in /proc; after Incus's shared/resources/load.go. */
import { join } from 'node:path';
import type { ResourcesLoad } from '../../api/resources';
import { type Host, list, readTrim } from './host';

/** The `load` section. */
export async function readLoad(host: Host): Promise<ResourcesLoad> {
  const text = await readTrim(join(host.proc, 'loadavg'));
  const f = (text ?? '').split(/\s+/).map(Number);
  if (f.length < 3 || f.slice(0, 3).some((n) => !Number.isFinite(n))) throw new Error(`Failed to parse ${join(host.proc, 'loadavg')}`);
  const processes = (await list(host.proc)).filter((n) => /^\d+$/.test(n)).length;
  return { Average1Min: f[0], Average5Min: f[1], Average10Min: f[2], Processes: processes };
}
