/**
 * The device driver interface: one implementation per device type
 * (disk, unix-char, unix-block, proxy, gpu, tpm, none, later nic), each
 * validating its config and describing, as data, what the instance needs at
 * start-up; live changes are applied by the device itself. devices/runner.ts
 * drives them for the instance driver.
 */
import type { InstanceRuntime } from '../interface';
import type { InstanceType } from '../../../api/instance';
import type { DeviceRunConfig } from './run-config';
import type { SourceWatch } from './source-watch';
import type { DeviceMonitors } from './device-monitors';
import type { StaticHost } from '../../network/interface';

export interface DeviceValidateContext {
  /** Validating a profile's device (instance-specific checks are skipped). */
  profile: boolean;
  /** Whether a storage pool exists (for disk devices). */
  poolExists(name: string): boolean;
  /** The type of instance the devices are for (absent for profiles). */
  instanceType?: InstanceType;
  /** A custom volume's content type (disk devices); absent when no instance project is known (profiles). */
  customVolume?(pool: string, name: string): { contentType: string; config: Record<string, string> } | undefined;
  /** Other instances (API URLs) whose devices use the custom volume; absent where no instance is known (profiles). */
  otherVolumeUsers?(pool: string, name: string): string[];
  /** A managed network (for nic devices): the NIC type it gives and its config. */
  network?(name: string): { nicType: string; config: Record<string, string> } | undefined;
  /** The instance being validated; absent for profiles. */
  instance?: { project: string; name: string };
  /** Every instance NIC on a managed network, as stored (bridged NICs check for clashes); absent for profiles. */
  networkNics?(network: string): StaticHost[];
  /** Listen addresses of every network forward (proxy devices may not listen on one). */
  forwardListenAddresses?: readonly string[];
}

/** Facts about the host the device drivers read; tests point the roots at fixture trees. */
export interface DeviceHost {
  /** The host's /dev (GPU nodes, NVIDIA control devices). */
  devRoot: string;
  /** The host's /sys (DRM cards, TPM devices). */
  sysRoot: string;
  /** The host's /proc (NVIDIA driver information). */
  procRoot: string;
  /** Version of the devices cgroup controller: 0 absent, 1 v1 file, 2 v2 (liblxc's eBPF program). */
  devicesCgroup: 0 | 1 | 2;
}

export interface DeviceStartContext {
  inst: InstanceRuntime;
  /** The device's name in the instance. */
  name: string;
  config: Record<string, string>;
  /** INCUS_DIR. */
  varDir: string;
  /** The instance's project-prefixed name (its folder under devices/ and logs/). */
  dirName: string;
  /** Writes a cgroup key of the running instance (device hot-plug into the devices cgroup). */
  setCgroup(key: string, value: string): Promise<void>;
  /** Host directory for this instance's device files: $INCUS_DIR/devices/<dirName>. */
  devicesDir: string;
  /** This instance's log directory (helper logs). */
  logDir: string;
  host: DeviceHost;
  /** Init PID of the running container (hot-plug, post-start work). */
  pid?: number;
  /** Host paths followed while the instance runs (unix devices with required=false). */
  sourceWatch?: SourceWatch;
  /** Background checks that follow the running instance (proxy NAT targets). */
  monitors?: DeviceMonitors;
}

export interface DeviceDriver {
  readonly type: string;
  /** Throws a 400 (StatusError) naming the device and key at fault. */
  validate(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void;
  /**
   * What the instance driver must set up when the instance starts, as data
   * (mounts, NICs, device rules); host-side preparation (device nodes)
   * happens here. A device whose source is missing with required=false
   * returns null.
   */
  start?(ctx: DeviceStartContext): Promise<DeviceRunConfig | null>;
  /** Work once the container runs (helpers such as a proxy); ctx.pid is set. */
  postStart?(ctx: DeviceStartContext): Promise<void>;
  /** Host-side cleanup when the container has stopped or the start failed. */
  stop?(ctx: DeviceStartContext): Promise<void>;
  /** Adds the device to a running container (ctx.pid set); absent when the type needs a restart. */
  hotplug?(ctx: DeviceStartContext): Promise<void>;
  /** Removes the device from a running container (ctx.pid set), host side included. */
  hotunplug?(ctx: DeviceStartContext): Promise<void>;
  /**
   * The daemon restarted while the container runs: re-adopt what postStart
   * left running (helper processes found by their PID files), or start it again.
   */
  resume?(ctx: DeviceStartContext): Promise<void>;
}
