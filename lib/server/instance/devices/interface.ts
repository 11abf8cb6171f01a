/**
 * The device driver interface: one implementation per device type
 * (disk, unix-char, unix-block, proxy, gpu, tpm, none, later nic), each
 * validating its config and contributing to the container's start-up and
 * live changes.
 */
import type { InstanceRuntime } from '../interface';

export interface DeviceValidateContext {
  /** Validating a profile's device (instance-specific checks are skipped). */
  profile: boolean;
  /** Whether a storage pool exists (for disk devices). */
  poolExists(name: string): boolean;
}

export interface DeviceStartContext {
  inst: InstanceRuntime;
  /** The device's name in the instance. */
  name: string;
  config: Record<string, string>;
  /** INCUS_DIR. */
  varDir: string;
  /** The liblxc container name. */
  lxcName: string;
  /** Init PID of the running container (hot-plug, post-start work). */
  pid?: number;
}

export interface DeviceDriver {
  readonly type: string;
  /** Throws a 400 (StatusError) naming the device and key at fault. */
  validate(name: string, config: Record<string, string>, ctx: DeviceValidateContext): void;
  /** liblxc config lines added before the container starts. */
  lxcConfig?(ctx: DeviceStartContext): Promise<string[]>;
  /** Work once the container runs (helpers such as a proxy). */
  postStart?(ctx: DeviceStartContext): Promise<void>;
  /** Cleanup when the container stops or the device is removed. */
  stop?(ctx: DeviceStartContext): Promise<void>;
  /** Adds the device to a running container; absent when the type needs a restart. */
  hotplug?(ctx: DeviceStartContext): Promise<void>;
  /** Removes the device from a running container. */
  hotunplug?(ctx: DeviceStartContext): Promise<void>;
}
