/**
 * Metrics of many containers from one native batch: state, init PID and the
 * raw cgroup and /proc/<init>/net/dev text of every running one in a single
 * call on libuv's pool; lib/server/metrics parses them.
 */
import * as lxc from '../../../../native/lxc';
import { CGROUP_FILES } from '../../../metrics/cgroup-stats';
import { filesystemStats } from '../../../metrics/fs-stats';
import { type HostFacts, containerMetrics } from '../../../metrics/instance-metrics';
import type { MetricSet } from '../../../metrics/openmetrics';
import { instanceDirName } from '../../dir-name';
import type { InstanceRuntime } from '../../interface';
import { bootRelative } from './start-time';

const FILES = [...CGROUP_FILES, 'proc/net/dev'];

/** Samples of each container, in the order given; null for one that is not running. */
export async function lxcMetrics(lxcpath: string, varDir: string, list: readonly InstanceRuntime[], host: HostFacts): Promise<(MetricSet | null)[]> {
  if (list.length === 0) return [];
  const rows = await lxc.batchState(
    lxcpath,
    list.map((i) => instanceDirName(i.project, i.name)),
    FILES,
  );
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    rows.map(async (row, n) => {
      if (row.pid <= 0 || !row.files) return null;
      const inst = list[n]!;
      const filesystems = await filesystemStats({ varDir, expandedDevices: inst.expandedDevices, volumePath: inst.volumePath, mounts: host.mounts });
      const started = bootRelative(row.startTicks);
      return containerMetrics(
        { project: inst.project, name: inst.name, files: row.files, bootTime: started ? Math.floor(Date.parse(started) / 1000) : null, filesystems, now },
        host,
      );
    }),
  );
}
