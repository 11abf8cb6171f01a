/**
 * The exact surface of the native addon (`incus_native.node`, built from
 * native/addon by binding.gyp). Only lib/native/*.ts may load it.
 *
 * Kinds, as STYLE.md defines them:
 *  - sync-fast: bounded syscalls, returns a value directly;
 *  - async: an AsyncWorker returning a Promise (no N-API calls in Execute);
 *  - wait: returns or watches a pollable fd through uv_poll; never parks a
 *    libuv pool thread.
 *
 * Every rejection/throw is an Error carrying `code` (errno name such as
 * 'ENOENT', or 'ELXC' for a liblxc failure without errno), `errno` (number,
 * when there is one), `syscall` (when a syscall failed), `op` (the operation,
 * e.g. 'stop') and `instance` (the container name, when there is one).
 */

/** Container states as liblxc names them. */
export type LxcState =
  | 'STOPPED'
  | 'STARTING'
  | 'RUNNING'
  | 'STOPPING'
  | 'ABORTING'
  | 'FREEZING'
  | 'FROZEN'
  | 'THAWED';

/** One row of batchState(): liblxc state plus cgroup usage, -1 where unknown. */
export interface BatchStateEntry {
  name: string;
  state: LxcState;
  /** Init PID as seen from the host, -1 when not running. */
  pid: number;
  /** Bytes (v1 memory.usage_in_bytes / v2 memory.current). */
  memoryUsage: number;
  /** Bytes (v1 memory.max_usage_in_bytes / v2 memory.peak). */
  memoryPeak: number;
  /** Bytes of swap (v1 memsw minus mem / v2 memory.swap.current). */
  swapUsage: number;
  swapPeak: number;
  /** Nanoseconds (v1 cpuacct.usage / v2 cpu.stat usage_usec * 1000). */
  cpuUsage: number;
  /** pids.current. */
  processes: number;
}

export interface NativeBinding {
  /** sync-fast: liblxc version string, e.g. "5.0.2". */
  lxcVersion(): string;

  /**
   * async: parse configPath with liblxc (lxc_container_new + load_config) and
   * fail with code 'EINVAL' and the offending key when it does not parse.
   */
  define(name: string, lxcpath: string, configPath: string): Promise<void>;

  /** async: state and init PID through the container's command socket. */
  state(name: string, lxcpath: string): Promise<{ state: LxcState; pid: number }>;

  /**
   * async: send the halt signal (lxc.signal.halt from configPath, SIGPWR by
   * default) to init and return at once; the caller waits on a pidfd.
   */
  shutdown(name: string, lxcpath: string, configPath: string): Promise<void>;

  /** async: SIGKILL init through the monitor, then wait (bounded by timeoutSec) until STOPPED. */
  kill(name: string, lxcpath: string, timeoutSec: number): Promise<void>;

  /** async: wait until the container reaches `state`, at most timeoutSec; resolves false on timeout. */
  waitState(name: string, lxcpath: string, state: LxcState, timeoutSec: number): Promise<boolean>;

  /** async: freeze through the freezer cgroup (v1 freezer.state or v2 cgroup.freeze), returning once frozen. */
  freeze(name: string, lxcpath: string): Promise<void>;
  /** async: the reverse of freeze(). */
  unfreeze(name: string, lxcpath: string): Promise<void>;

  /** async: liblxc get_cgroup_item. */
  getCgroupItem(name: string, lxcpath: string, key: string): Promise<string>;
  /** async: liblxc set_cgroup_item. */
  setCgroupItem(name: string, lxcpath: string, key: string, value: string): Promise<void>;

  /** async: state, PID and cgroup usage for many containers in one call. */
  batchState(lxcpath: string, names: string[]): Promise<BatchStateEntry[]>;

  /** sync-fast: pidfd_open(pid, 0), CLOEXEC; the caller closes it. */
  pidfdOpen(pid: number): number;

  /** wait: resolve once fd is readable (uv_poll; for a pidfd: the process exited). */
  pollReadable(fd: number): Promise<void>;

  /**
   * async: lchown every entry under path from the plain 0-based ids to
   * uid+uidOffset / gid+gidOffset (the rootfs shift used where idmapped
   * mounts do not work). Does not follow symlinks; keeps setuid/setgid bits.
   */
  shiftTree(path: string, uidOffset: number, gidOffset: number): Promise<void>;
}
