/**
 * The QEMU process of one VM: started daemonized so it outlives incusd, found
 * again after a daemon restart by its pidfile, /proc cmdline and QMP socket,
 * stopped by ACPI power-down then `quit` then SIGKILL, and watched through a
 * pidfd so nothing blocks the event loop.
 *
 * With `-daemonize`, QEMU's first process exits only once the daemon child has
 * finished initialising (monitor socket listening) or failed; its exit code is
 * the start result. Option errors come on its stderr, configuration errors in
 * the `-D` log (QEMU points stderr there); both are reported on failure.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { holdPid, type PidWatch } from '../../../../native/pidfd';
import type { QemuPaths } from './paths';
import { checkSocketPaths } from './paths';
import { QmpClient } from './qmp';
import * as cmd from './qmp-commands';
import type { QemuLaunch } from './qemu-config';

/** Default deadline for QEMU to initialise and answer on QMP. */
export const QEMU_START_TIMEOUT_MS = 30000;
/** How long `quit` may take before SIGKILL. */
const QUIT_GRACE_MS = 5000;
/** Most of QEMU's stderr kept for an error message. */
const MAX_STDERR = 16 * 1024;
/** Linux's USER_HZ, the unit of /proc/<pid>/stat times. */
const CLOCK_TICKS = 100;

/** How a stop ended. */
export type StopOutcome = 'powerdown' | 'quit' | 'killed' | 'exited';

/** Figures for `incus info` and metrics. */
export interface QemuFigures {
  pid: number;
  /** vCPUs QEMU runs and their host thread ids. */
  vcpus: cmd.QemuVcpu[];
  /** Guest RAM size from QMP. */
  memoryBytes: number;
  /** Host memory QEMU holds (VmRSS). */
  memoryUsageBytes: number;
  /** CPU time QEMU used (user + system), nanoseconds. */
  cpuTimeNs: number;
}

/** Options for {@link startQemu}. */
export interface QemuStartOptions {
  launch: QemuLaunch;
  paths: QemuPaths;
  /** Start deadline (default {@link QEMU_START_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/** A running QEMU of one VM, with its QMP connection. */
export class QemuProcess {
  /** Resolves when QEMU has exited (its runtime files are removed then). */
  readonly exited: Promise<void>;
  private hasExited = false;

  constructor(
    readonly pid: number,
    readonly paths: QemuPaths,
    /** The QMP connection; events arrive on it. */
    readonly qmp: QmpClient,
    private readonly watch: PidWatch,
  ) {
    // A failed pidfd poll cannot tell us more than that the watch ended.
    this.exited = watch.exited.catch(() => undefined).then(async () => {
      this.hasExited = true;
      qmp.close();
      await removeRuntimeFiles(paths).catch(() => undefined);
    });
  }

  /** Whether QEMU is still alive. */
  get running(): boolean {
    return !this.hasExited;
  }

  /** QEMU's run state (`running`, `paused`, `shutdown`, `prelaunch`...). */
  async status(): Promise<cmd.QemuStatus> {
    return cmd.queryStatus(this.qmp);
  }

  /** Freezes the vCPUs (`stop`). */
  pause(): Promise<void> {
    return cmd.pause(this.qmp);
  }

  /** Thaws the vCPUs (`cont`). */
  resume(): Promise<void> {
    return cmd.resume(this.qmp);
  }

  /** ACPI power-down, then waits up to `timeoutMs` for QEMU to exit; true when it did. */
  async shutdown(timeoutMs: number): Promise<boolean> {
    if (this.hasExited) return true;
    try {
      await cmd.powerdown(this.qmp);
    } catch (err) {
      if (this.qmp.isOpen) throw err;
    }
    return exitedWithin(this.exited, timeoutMs);
  }

  /**
   * Stops QEMU: ACPI power-down with `timeoutMs` for the guest to act (0
   * skips it), then `quit`, then SIGKILL. Resolves once the process is gone.
   */
  async stop(timeoutMs: number): Promise<StopOutcome> {
    if (this.hasExited) return 'exited';
    if (timeoutMs > 0 && (await this.shutdown(timeoutMs))) return 'powerdown';
    if (this.qmp.isOpen) {
      await cmd.quit(this.qmp).catch(() => undefined);
      if (await exitedWithin(this.exited, QUIT_GRACE_MS)) return 'quit';
    }
    await this.kill();
    return 'killed';
  }

  /** SIGKILL through the pidfd (never another process that reused the pid); resolves on exit. */
  async kill(): Promise<void> {
    this.watch.signal('SIGKILL');
    await this.exited;
  }

  /** Closes the QMP connection, leaving QEMU running (daemon shutdown). */
  detach(): void {
    this.qmp.close();
  }

  /** Figures from QMP and /proc. */
  async figures(): Promise<QemuFigures> {
    const [vcpus, memoryBytes, proc] = await Promise.all([
      cmd.queryVcpus(this.qmp),
      cmd.queryMemoryBytes(this.qmp),
      procFigures(this.pid),
    ]);
    return { pid: this.pid, vcpus, memoryBytes, ...proc };
  }

  /**
   * The console log: drains the ring buffer into `paths.consoleLog` and
   * returns the whole file (empty while `incus console` holds the socket).
   */
  async consoleLog(): Promise<string> {
    try {
      const fresh = await cmd.ringbufRead(this.qmp);
      if (fresh !== '') await writeFile(this.paths.consoleLog, fresh, { flag: 'a', mode: 0o600 });
    } catch (err) {
      if (!(err instanceof cmd.NotARingbufError)) throw err;
    }
    return readFile(this.paths.consoleLog, 'utf8').catch(() => '');
  }

  /**
   * Moves the serial console onto a listening socket at `paths.console` for
   * `incus console` (one client at a time), saving the ring buffer first.
   * Returns the socket path.
   */
  async attachConsole(): Promise<string> {
    await this.consoleLog();
    await rm(this.paths.console, { force: true });
    await cmd.consoleToSocket(this.qmp, this.paths.console);
    return this.paths.console;
  }

  /** Puts the serial console back on its ring buffer and removes the socket. */
  async detachConsole(): Promise<void> {
    await cmd.consoleToRingbuf(this.qmp);
    await rm(this.paths.console, { force: true });
  }
}

function exitedWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function procFigures(pid: number): Promise<{ memoryUsageBytes: number; cpuTimeNs: number }> {
  const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // Fields after the command name (which may hold spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return { memoryUsageBytes: rss ? Number(rss[1]) * 1024 : 0, cpuTimeNs: (ticks * 1e9) / CLOCK_TICKS };
}

/** Removes the pidfile and sockets a dead QEMU left behind (qemu.conf stays for inspection). */
export async function removeRuntimeFiles(paths: QemuPaths): Promise<void> {
  for (const p of [paths.pidfile, paths.monitor, paths.console, paths.agent, paths.spice]) await rm(p, { force: true });
}

/**
 * The pid of this VM's live QEMU, or null. The pidfile alone is not trusted:
 * the process must be a live (non-zombie) qemu-system whose argv names this
 * very pidfile, so a reused pid is never mistaken for the VM.
 */
export async function findQemuPid(paths: QemuPaths): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await readFile(paths.pidfile, 'utf8')).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return null;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (!basename(argv[0] ?? '').startsWith('qemu-system')) return null;
    const i = argv.indexOf('-pidfile');
    return i >= 0 && argv[i + 1] === paths.pidfile ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Finds this VM's QEMU after a daemon restart and reconnects to its monitor.
 * Null when no QEMU runs (stale runtime files are removed then). Throws when
 * QEMU runs but its monitor does not answer; {@link killQemu} ends it.
 */
export async function findQemu(paths: QemuPaths, opts: { timeoutMs?: number } = {}): Promise<QemuProcess | null> {
  const pid = await findQemuPid(paths);
  if (pid === null) {
    await removeRuntimeFiles(paths);
    return null;
  }
  const watch = holdPid(pid);
  if (!watch) return null;
  let qmp: QmpClient;
  try {
    qmp = await QmpClient.connect(paths.monitor, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    throw new Error(`QEMU (pid ${pid}) is running but its monitor does not answer: ${(err as Error).message}`);
  }
  return new QemuProcess(pid, paths, qmp, watch);
}

/**
 * Live qemu-system processes whose argv names this VM's pidfile: also the
 * ones that never wrote it (a start killed mid-initialisation).
 */
export async function qemuPidsByArgv(paths: QemuPaths): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (!basename(argv[0] ?? '').startsWith('qemu-system')) continue;
      const i = argv.indexOf('-pidfile');
      if (i >= 0 && argv[i + 1] === paths.pidfile) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * SIGKILLs this VM's QEMU (found by its pidfile, or by its argv naming the
 * pidfile when that was never written); resolves once every one is gone.
 */
export async function killQemu(paths: QemuPaths): Promise<boolean> {
  const pids = new Set(await qemuPidsByArgv(paths));
  const fromPidfile = await findQemuPid(paths);
  if (fromPidfile !== null) pids.add(fromPidfile);
  let killed = false;
  for (const pid of pids) {
    const watch = holdPid(pid);
    if (!watch) continue;
    watch.signal('SIGKILL');
    await watch.exited;
    killed = true;
  }
  await removeRuntimeFiles(paths);
  return killed;
}

/**
 * Pins each vCPU thread to one host CPU (`limits.cpu` as a list), round
 * robin over `hostCpus`. Uses taskset(1) so no affinity call runs in-process.
 */
export async function pinVcpus(vcpus: readonly cmd.QemuVcpu[], hostCpus: readonly number[]): Promise<void> {
  if (hostCpus.length === 0) return;
  for (const [i, vcpu] of vcpus.entries()) {
    const cpu = hostCpus[i % hostCpus.length];
    await new Promise<void>((resolve, reject) => {
      execFile('taskset', ['-pc', String(cpu), String(vcpu.threadId)], (err, _out, stderr) => {
        if (err) reject(new Error(`Failed to pin vCPU ${vcpu.index} to CPU ${cpu}: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
  }
}

interface FirstExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  spawnError?: Error;
  timedOut: boolean;
}

function runFirstProcess(launch: QemuLaunch, timeoutMs: number): Promise<FirstExit> {
  return new Promise((resolve) => {
    // launch.fds land at 3, 4, ... in QEMU (dup2 clears their CLOEXEC there); its daemon child keeps them.
    const child = spawn(launch.binary, launch.args, { stdio: ['ignore', 'ignore', 'pipe', ...launch.fds], detached: true });
    // Piped above (the extra fds widen the type to "maybe null").
    const errPipe = child.stderr!;
    let stderr = '';
    let timedOut = false;
    errPipe.on('data', (d: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stderr, spawnError: err, timedOut });
    });
    // 'exit', not 'close': the daemon child may keep the stderr pipe's other end.
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      errPipe.destroy();
      resolve({ code, signal, stderr, timedOut });
    });
  });
}

/**
 * Starts QEMU for one VM: writes `qemu.conf`, runs QEMU daemonized with its
 * pidfile and log, and connects to its monitor. On failure throws with QEMU's
 * own words and leaves no process behind. Never waits past the deadline.
 */
export async function startQemu(opts: QemuStartOptions): Promise<QemuProcess> {
  const { launch, paths } = opts;
  const timeoutMs = opts.timeoutMs ?? QEMU_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  checkSocketPaths(paths);
  const running = await findQemuPid(paths);
  if (running !== null) throw new Error(`QEMU is already running for this instance (pid ${running})`);

  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.logDir, { recursive: true, mode: 0o700 });
  await removeRuntimeFiles(paths);
  await writeFile(paths.conf, launch.conf, { mode: 0o640 });
  // A fresh log, so a failure reports only this run's words.
  await writeFile(paths.log, '', { mode: 0o600 });

  const first = await runFirstProcess(launch, timeoutMs);
  const failure = async (why: string): Promise<Error> => {
    await killQemu(paths).catch(() => undefined);
    await removeRuntimeFiles(paths);
    return new Error(why);
  };
  if (first.spawnError) {
    const e = first.spawnError as NodeJS.ErrnoException;
    throw await failure(
      e.code === 'ENOENT' ? `QEMU binary "${launch.binary}" not found; install qemu-system-x86` : `Failed to run ${launch.binary}: ${e.message}`,
    );
  }
  if (first.timedOut) throw await failure(`QEMU did not start within ${Math.round(timeoutMs / 1000)}s`);
  if (first.code !== 0) {
    const log = await readFile(paths.log, 'utf8').catch(() => '');
    const words = [...new Set([...first.stderr.split('\n'), ...log.split('\n')].map((l) => l.trim()).filter(Boolean))].join('\n');
    const status = first.code === null ? `signal ${first.signal}` : `exit status ${first.code}`;
    throw await failure(`Failed to run: ${launch.binary} ${launch.args.join(' ')}: ${words}: ${status}`);
  }

  const pid = await findQemuPid(paths);
  const watch = pid === null ? null : holdPid(pid);
  if (pid === null || !watch) {
    const log = await readFile(paths.log, 'utf8').catch(() => '');
    throw await failure(`QEMU exited right after starting${log.trim() ? `: ${log.trim()}` : ''}`);
  }
  try {
    const qmp = await QmpClient.connect(paths.monitor, { timeoutMs: Math.max(1000, deadline - Date.now()) });
    return new QemuProcess(pid, paths, qmp, watch);
  } catch (err) {
    watch.signal('SIGKILL');
    await watch.exited;
    throw await failure(`QEMU started but its monitor does not answer: ${(err as Error).message}`);
  }
}
