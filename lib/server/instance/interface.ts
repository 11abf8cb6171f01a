/**
 * The boundary between the instance layer and its drivers: one per
 * instance type (drivers/lxc for containers, drivers/qemu for VMs), found
 * through load.ts. Routes and the instance layer call only this.
 */
import type { InstanceStateNetwork } from '../../api/instance-state';
import type { ConfigMap, DevicesMap, InstanceType } from '../../api/instance';
import type { IdmapEntry } from './idmap-alloc';
import type { InstanceConsole } from './console-session';
import type { InstanceExec } from './exec/instance-exec';
import type { InstanceFiles } from './files/instance-files';
import type { HostFacts } from '../metrics/instance-metrics';
import type { MetricText } from '../metrics/openmetrics';

/** What a driver needs to know about one instance to act on it. */
export interface InstanceRuntime {
  project: string;
  name: string;
  type: InstanceType;
  expandedConfig: ConfigMap;
  expandedDevices: DevicesMap;
  /** Mount path of the instance's root volume (containers: holds rootfs/; VMs: the small config volume). */
  volumePath: string;
  /** VMs: the root volume's raw disk (a file, or a block device). */
  rootDisk?: string;
  /** True when the rootfs on disk is unshifted and must be mounted with an idmap. */
  idmappedRootfs: boolean;
  /** The id map to run with; null for a privileged container. */
  idmap: IdmapEntry[] | null;
  /** The project holding the custom volumes its disk devices name (features.storage.volumes); absent: `project`. */
  volumeProject?: string;
  /** The raw disks of the custom block volumes its disk devices name, by device name (VMs attach them as drives). */
  blockVolumes?: Record<string, string>;
  /** The disk devices whose custom volume has security.shifted (an idmapped bind; others are shifted on disk). */
  shiftedVolumes?: string[];
}

/** Runtime state as the API reports it. */
export interface RuntimeState {
  status: string;
  statusCode: number;
  pid: number;
  processes: number;
  memoryUsage: number;
  memoryPeak: number;
  swapUsage: number;
  swapPeak: number;
  cpuUsage: number;
  /** CPU time per second the instance may use, ns (only when asked for: StatesOptions.cpu). */
  cpuAllocatedTime?: number;
  /** When init started (ISO 8601), absent when not running or unknown. */
  startedAt?: string;
  /** VMs: how the vCPUs run (`kvm` or `tcg`). */
  accelerator?: string;
  /** Memory the instance sees, bytes (VMs: from the guest agent). */
  memoryTotal?: number;
  /** Filesystem use by disk device (VMs: the root filesystem, from the guest agent). */
  disk?: Record<string, { usage: number; total: number }>;
  /** Interfaces inside the container, by name (only when asked for: it costs a helper run). */
  network?: Record<string, InstanceStateNetwork>;
}

/** What a states() caller needs beyond the cheap fields. */
export interface StatesOptions {
  /** Read the containers' interfaces (one helper run for the whole batch). */
  network?: boolean;
  /** Read the CPU allocation (cpuset and CFS quota) for `cpu.allocated_time`. */
  cpu?: boolean;
}

export interface StopOptions {
  force: boolean;
  /** Seconds to wait for a clean shutdown before killing; -1 waits forever. */
  timeoutSec: number;
  /**
   * When the clean shutdown times out, fail with Incus's "Failed shutting
   * down instance" and leave the instance running instead of killing it.
   */
  keepRunningOnTimeout?: boolean;
}

/** What a driver can do, as data (checked by the instance layer before it asks). */
export interface DriverFeatures {
  /** Config keys a running instance takes without a restart (prefixes end in "."). */
  liveConfig: string[];
  /** Device types that can be added to or removed from a running instance. */
  hotplugDevices: string[];
  /** Device types this driver can give an instance at all. */
  devices: string[];
  /** Stateful stop/snapshot (checkpointing the running state). */
  stateful: boolean;
  /** Nested containers inside (security.nesting). */
  nesting: boolean;
  /** Console types (`console`, `vga`). */
  consoles: string[];
  /** Runs under an id map (unprivileged containers). */
  idmap: boolean;
}

/** What a metrics scrape needs of an instance (InstanceManager.metricsTargets loads many at once). */
export type MetricsTarget = Pick<InstanceRuntime, 'project' | 'name' | 'type' | 'expandedDevices' | 'volumePath'>;

export interface DriverInfo {
  type: InstanceType;
  /** The driver's name as GET /1.0 environment reports it (lxc, qemu). */
  name: string;
  version: string;
  features: DriverFeatures;
}

export interface InstanceDriver {
  readonly info: DriverInfo;
  start(inst: InstanceRuntime): Promise<void>;
  stop(inst: InstanceRuntime, opts: StopOptions): Promise<void>;
  freeze(inst: InstanceRuntime): Promise<void>;
  unfreeze(inst: InstanceRuntime): Promise<void>;
  /** Applies changed config keys to a running instance (limits), without a restart. */
  update(inst: InstanceRuntime, changedKeys: string[]): Promise<void>;
  /**
   * Hot-plugs/unplugs the devices that differ from `before` in a running
   * instance (400 naming the device on failure, all undone). Containers:
   * each device injects itself (its hotplug/hotunplug); VMs: the driver
   * plugs what the device's start() describes (devices/runner.ts DevicePlugger).
   */
  updateDevices?(inst: InstanceRuntime, before: DevicesMap): Promise<void>;
  /** After a daemon restart: re-adopts (or restarts) the device helpers of a running instance. */
  resumeDevices?(inst: InstanceRuntime): Promise<void>;
  /** State of many instances in one batched call, in the order given. */
  states(list: Pick<InstanceRuntime, 'project' | 'name'>[], opts?: StatesOptions): Promise<RuntimeState[]>;
  /** `/1.0/metrics`: writes the samples of the running ones of many instances, read in batches, to `out`. */
  metrics?(list: MetricsTarget[], host: HostFacts, out: (t: MetricsTarget) => MetricText): Promise<void>;
  /** Makes the driver's runtime links for a new or renamed instance. */
  attach(inst: InstanceRuntime): Promise<void>;
  /** Removes the driver's runtime files (links, logs) of a deleted instance. */
  detach(inst: Pick<InstanceRuntime, 'project' | 'name'>): Promise<void>;
  /** Runs commands in the running instance whose state is `st` (pid > 0). */
  exec(inst: InstanceRuntime, st: RuntimeState): Promise<InstanceExec>;
  /** Console attach and log. */
  readonly console: InstanceConsole;
  /** Daemon shutdown: lets go of what the driver holds open (the instances keep running). */
  release?(): void;
  /** Opens file access on the instance: inside it while it runs (`st`), on its root volume otherwise. */
  openFiles(inst: InstanceRuntime, st: RuntimeState): Promise<InstanceFiles>;
}
