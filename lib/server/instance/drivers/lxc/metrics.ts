/**
 * Metrics of many containers from native batches: state, init PID, the
 * raw cgroup and /proc/<init>/net/dev text and the root volume's statfs of
 * every running one, read on libuv's pool; lib/server/metrics parses them. Large scrapes are read in
 * slices, the next slice read while this thread parses the last, so the
 * reading and the parsing of a thousand containers overlap.
 */
import * as lxc from '../../../../native/lxc';
import { CGROUP_FILES } from '../../../metrics/cgroup-stats';
import { filesystemStats, pathStatsOnce } from '../../../metrics/fs-stats';
import { type HostFacts, containerLabels, writeContainerMetrics } from '../../../metrics/instance-metrics';
import type { MetricText } from '../../../metrics/openmetrics';
import { instanceDirName } from '../../dir-name';
import type { MetricsTarget } from '../../interface';
import { bootRelative } from './start-time';

const FILES = [...CGROUP_FILES, 'proc/net/dev'];

/** Containers per native read: enough for its threads, small enough to overlap with parsing. */
export const METRICS_SLICE = 200;

/** Writes the samples of each running container to its `out` text. */
export async function lxcMetrics(lxcpath: string, varDir: string, list: readonly MetricsTarget[], host: HostFacts, out: (t: MetricsTarget) => MetricText): Promise<void> {
  const names = list.map((i) => instanceDirName(i.project, i.name));
  const roots = list.map((i) => i.volumePath);
  const read = (from: number): Promise<lxc.BatchStateEntry[]> => {
    const to = from + METRICS_SLICE;
    const p = lxc.batchState(lxcpath, names.slice(from, to), FILES, roots.slice(from, to));
    // Awaited once the slice before it is parsed; marked handled so a failure waits for that.
    p.catch(() => undefined);
    return p;
  };
  const poolStats = pathStatsOnce();
  let next = list.length > 0 ? read(0) : null;
  for (let from = 0; next !== null; from += METRICS_SLICE) {
    const rows = await next;
    next = from + METRICS_SLICE < list.length ? read(from + METRICS_SLICE) : null;
    const now = Math.floor(Date.now() / 1000);
    await Promise.all(
      rows.map(async (row, k) => {
        if (row.pid <= 0 || !row.files) return;
        const inst = list[from + k]!;
        const filesystems = await filesystemStats({ varDir, expandedDevices: inst.expandedDevices, volumePath: inst.volumePath, mounts: host.mounts, root: row.statfs ?? null, poolStats });
        const started = bootRelative(row.startTicks);
        const bootTime = started ? Math.floor(Date.parse(started) / 1000) : null;
        const reading = { project: inst.project, name: inst.name, files: row.files, bootTime, filesystems, now };
        writeContainerMetrics(reading, host, out(inst).labelled(containerLabels(reading)));
      }),
    );
  }
}
