/**
 * Metrics of many containers from native batches: state, init PID, the
 * raw cgroup and /proc/<init>/net/dev text and the root volume's statfs of
 * every running one, read on libuv's pool; lib/server/metrics parses them.
 * A large scrape is read in slices, the next ones read while this thread
 * parses the last, so that reading and parsing overlap.
 */
import * as lxc from '../../../../native/lxc';
import { filesystemStats, pathStatsOnce } from '../../../metrics/fs-stats';
import { type HostFacts, containerLabels, writeContainerMetrics } from '../../../metrics/instance-metrics';
import type { MetricText } from '../../../metrics/openmetrics';
import { instanceDirName } from '../../dir-name';
import type { MetricsTarget } from '../../interface';
import { bootRelativeSeconds } from './start-time';

/** Containers per native read: one thread's worth (see batch-state.cc), small enough to overlap with parsing. */
export const METRICS_SLICE = 100;

/** Native reads in flight while a slice is parsed: two keep this thread from waiting on them. */
const READS_AHEAD = 2;

/** What lxcMetrics reads where. */
export interface LxcMetricsSource {
  lxcpath: string;
  /** INCUS_DIR. */
  varDir: string;
  /** The cgroup files this host has (cgroupFilesFor) and proc/net/dev. */
  files: string[];
}

/** Writes the samples of each running container to its `out` text. */
export async function lxcMetrics(src: LxcMetricsSource, list: readonly MetricsTarget[], host: HostFacts, out: (t: MetricsTarget) => MetricText): Promise<void> {
  const { lxcpath, varDir, files } = src;
  const names = list.map((i) => instanceDirName(i.project, i.name));
  const roots = list.map((i) => i.volumePath);
  const reads: Promise<lxc.BatchStateEntry[]>[] = [];
  let asked = 0;
  const readAhead = (): void => {
    while (reads.length < READS_AHEAD && asked < list.length) {
      const p = lxc.batchState(lxcpath, names.slice(asked, asked + METRICS_SLICE), files, roots.slice(asked, asked + METRICS_SLICE));
      // Awaited once the slices before it are parsed; marked handled so a failure waits for that.
      p.catch(() => undefined);
      reads.push(p);
      asked += METRICS_SLICE;
    }
  };
  const poolStats = pathStatsOnce();
  readAhead();
  for (let from = 0; reads.length > 0; from += METRICS_SLICE) {
    const rows = await reads.shift()!;
    readAhead();
    const now = Math.floor(Date.now() / 1000);
    await Promise.all(
      rows.map(async (row, k) => {
        if (row.pid <= 0 || !row.files) return;
        const inst = list[from + k]!;
        const filesystems = await filesystemStats({ varDir, expandedDevices: inst.expandedDevices, volumePath: inst.volumePath, mounts: host.mounts, root: row.statfs ?? null, poolStats });
        const started = bootRelativeSeconds(row.startTicks);
        // Whole seconds, as the ISO time the API shows (milliseconds) would give.
        const bootTime = started === undefined ? null : Math.floor(started);
        const reading = { project: inst.project, name: inst.name, files: row.files, bootTime, filesystems, now };
        writeContainerMetrics(reading, host, out(inst).labelled(containerLabels(reading)));
      }),
    );
  }
}
