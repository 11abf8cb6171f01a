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
  /** When init started, in clock ticks after boot (/proc/PID/stat field 22); -1 when unknown. */
  startTicks: number;
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
  /**
   * When files were asked for and the container runs: their raw text by the
   * name asked ("memory.stat", "proc/net/dev"); a file not there is absent.
   */
  files?: Record<string, string>;
  /** When a statfs path was given and the container runs: statfs(2) of it, and its st_dev. */
  statfs?: BatchStatfs;
}

/** statfs(2) figures of a path, with stat(2)'s st_dev of it. */
export interface BatchStatfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  dev: number;
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

  /** async: freeze through the freezer cgroup (v1 freezer.state or v2 cgroup.freeze), returning once frozen. */
  freeze(name: string, lxcpath: string): Promise<void>;
  /** async: the reverse of freeze(). */
  unfreeze(name: string, lxcpath: string): Promise<void>;

  /** async: liblxc get_cgroup_item. */
  getCgroupItem(name: string, lxcpath: string, key: string): Promise<string>;
  /** async: liblxc set_cgroup_item. */
  setCgroupItem(name: string, lxcpath: string, key: string, value: string): Promise<void>;

  /** async: state, PID and cgroup usage for many containers in one call. */
  batchState(lxcpath: string, names: string[], files?: string[], statfsPaths?: string[]): Promise<BatchStateEntry[]>;

  /** sync-fast: pidfd_open(pid, 0), CLOEXEC; the caller closes it. */
  pidfdOpen(pid: number): number;

  /** sync-fast: pidfd_send_signal(fd, signal); ESRCH when the process has exited. */
  pidfdSendSignal(fd: number, signal: number): void;
  /** sync-fast: whether something listens on the abstract unix socket `name` (without its leading NUL): a non-blocking connect. */
  abstractListening(name: string): boolean;
  /** sync-fast: getsockopt(SO_PEERCRED) on a connected unix socket: the peer's pid (in the daemon's pid namespace), uid and gid. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };

  /** wait: resolve once fd is readable (uv_poll; for a pidfd: the process exited). */
  pollReadable(fd: number): Promise<void>;

  /**
   * async: lchown every entry under path from the plain 0-based ids to
   * uid+uidOffset / gid+gidOffset (the rootfs shift used where idmapped
   * mounts do not work). Does not follow symlinks; keeps setuid/setgid bits.
   */
  shiftTree(path: string, uidOffset: number, gidOffset: number): Promise<void>;

  /**
   * sync-fast: a pty pair from the devpts instance that process `pid` sees
   * (`/proc/<pid>/root/dev/pts/ptmx`, resolved inside that root; pid 0: the
   * host's /dev/ptmx). The slave (from TIOCGPTPEER) is chowned to uid:gid
   * unless uid is -1; the master is non-blocking; both are CLOEXEC; the
   * window starts at 80x25. `index` is N of /dev/pts/N.
   */
  openpty(pid: number, uid: number, gid: number): { master: number; slave: number; index: number };

  /** sync-fast: ioctl(TIOCSWINSZ) on either side of a pty. */
  setWindowSize(fd: number, cols: number, rows: number): void;

  /** sync-fast: pipe2(O_CLOEXEC): [readFd, writeFd]. */
  makePipe(): [number, number];

  /** sync-fast: socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC); both ends blocking. */
  streamPair(): [number, number];

  /**
   * async: a proxy pty bridged to the container's console (liblxc
   * console_getfd, tty 0, through the command socket; nothing forks).
   * `ptx` is the pty master to read and write; `keepalive` is the command
   * socket that holds the console for us until it is closed. Both are
   * CLOEXEC; the caller closes both. Fails with EBUSY when another client
   * holds the console, ESRCH when the container is not running.
   */
  consoleOpen(name: string, lxcpath: string): Promise<{ ptx: number; keepalive: number }>;

  /**
   * async: the console ring buffer (liblxc console_log): its bytes when
   * clear is false (liblxc 5.0 drains what a read returns); clears it and
   * resolves an empty Buffer when clear is true (lxc.console.logfile is
   * left alone). ENODATA: nothing logged since the last read.
   */
  consoleLog(name: string, lxcpath: string, clear: boolean): Promise<Buffer>;

  /**
   * sync-fast: socketpair(AF_UNIX, SOCK_SEQPACKET), both ends CLOEXEC; the
   * first end (ours) is O_NONBLOCK, the second stays blocking (for a child).
   */
  seqpacketPair(): [number, number];

  /**
   * sync-fast: sendmsg(MSG_DONTWAIT) of one message, with `fds` passed as
   * SCM_RIGHTS (at most 16); returns the bytes sent. EAGAIN when full.
   */
  sendMsg(fd: number, data: Buffer, fds?: number[]): number;

  /**
   * sync-fast: recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC) of one message of at
   * most maxLen bytes; null when none is waiting (wait with pollReadable);
   * an empty `data` at end of stream. Received fds are CLOEXEC and belong to
   * the caller; `truncated` when the message or its fds did not fit.
   */
  recvMsg(fd: number, maxLen: number): { data: Buffer; fds: number[]; truncated: boolean } | null;

  /**
   * async (own thread): dqlite_node_create(id, address, dataDir) with our
   * connect function set. For every outgoing raft connection dqlite makes,
   * `onConnect(fd, address)` runs on the event loop with one end of a
   * CLOEXEC socketpair whose other end dqlite already holds: the callee owns
   * fd and connects it to `address` (or closes it). Rejects with code
   * 'EDQLITE' and dqlite's message.
   */
  dqliteNodeCreate(id: number, address: string, dataDir: string, onConnect: (fd: number, address: string) => void): Promise<DqliteNodeHandle>;
  /** sync-fast: binds the abstract unix socket `address` ("@name"); returns the address bound. Before start only. */
  dqliteNodeSetBindAddress(node: DqliteNodeHandle, address: string): string;
  /** sync-fast: network latency, failure domain, snapshot parameters (both or neither). Before start only. */
  dqliteNodeSetOptions(node: DqliteNodeHandle, options: DqliteNodeOptions): void;
  /** async (own thread): dqlite_node_start; member 1 bootstraps a one-member cluster on first start. EBUSY while another call runs. */
  dqliteNodeStart(node: DqliteNodeHandle): Promise<void>;
  /** async (own thread): dqlite_node_stop (joins dqlite's thread); resolves at once when not running. */
  dqliteNodeStop(node: DqliteNodeHandle): Promise<void>;
  /** async (own thread): dqlite_node_recover_ext with the surviving members; the node must be stopped. */
  dqliteNodeRecover(node: DqliteNodeHandle, members: Array<{ id: number; address: string; role: number }>): Promise<void>;
  /** sync-fast: dqlite_node_destroy; EBUSY while the node runs. Idempotent. */
  dqliteNodeDestroy(node: DqliteNodeHandle): void;
  /** sync-fast: a CLOEXEC non-blocking socket connected to the abstract unix socket "@name" (exact-length name, as dqlite binds it). */
  dqliteConnectAbstract(name: string): number;
  /** sync-fast: dqlite_version_number(), e.g. 11000 for Debian's 1.11.1 (its header still says 1.10.0). */
  dqliteVersion(): number;
}

/** An opaque dqlite_node owned by the addon. */
export interface DqliteNodeHandle {
  readonly __dqliteNode: unique symbol;
}

/** Settings of a dqlite node that must be made before it starts. */
export interface DqliteNodeOptions {
  networkLatencyMs?: number;
  failureDomain?: number;
  snapshotThreshold?: number;
  snapshotTrailing?: number;
}

