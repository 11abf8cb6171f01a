/**
 * dnsmasq processes run and supervised by the daemon, one per network.
 * They outlive the daemon: a PID file records each one, and a restarted
 * daemon adopts the process it finds there when its command line is still
 * the wanted one (otherwise it replaces it). A process that dies while the
 * daemon runs is started again, a few times a minute at most.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { watchPid } from '../../native/pidfd';
import type { Logger } from '../log';

/** Where one dnsmasq keeps its PID file and log. */
export interface DnsmasqFiles {
  pid: string;
  log: string;
}

interface Entry {
  pid: number;
  args: string[];
  files: DnsmasqFiles;
  restarts: number[];
}

const BINARY = 'dnsmasq';
/** How long a fresh dnsmasq must stay up to count as started (Incus waits as long). */
const STARTUP_GRACE_MS = 500;
const MAX_RESTARTS_PER_MINUTE = 5;

/** The argv of a live process, or null. */
function cmdline(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').slice(0, -1);
  } catch {
    return null;
  }
}

/** Whether pid runs dnsmasq with exactly these arguments. */
function runsArgs(pid: number, args: readonly string[]): boolean {
  const argv = cmdline(pid);
  if (!argv || !argv[0]?.endsWith(BINARY)) return false;
  return argv.length === args.length + 1 && argv.slice(1).every((a, i) => a === args[i]);
}

/** Whether pid runs dnsmasq at all (before signalling it: PIDs get reused). */
function isDnsmasq(pid: number): boolean {
  return cmdline(pid)?.[0]?.endsWith(BINARY) ?? false;
}

async function readPid(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 1 ? n : 0;
}

/** Resolves true once pid has exited, false after ms. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const w = watchPid(pid);
  if (!w) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([w.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class DnsmasqSupervisor {
  private readonly running = new Map<string, Entry>();
  /** Keys that should have a dnsmasq (a stop removes the key, so no restart follows). */
  private readonly wanted = new Set<string>();
  private released = false;

  constructor(private readonly log: Logger) {}

  /**
   * Makes sure dnsmasq runs for `key` with `args`: adopts the process named
   * by the PID file when it matches, replaces it otherwise. Returns its PID.
   */
  async ensure(key: string, args: string[], files: DnsmasqFiles): Promise<number> {
    this.wanted.add(key);
    const known = this.running.get(key);
    if (known && runsArgs(known.pid, args)) return known.pid;
    const recorded = known?.pid || (await readPid(files.pid));
    if (recorded && runsArgs(recorded, args)) {
      this.supervise(key, { pid: recorded, args, files, restarts: known?.restarts ?? [] });
      return recorded;
    }
    this.running.delete(key);
    if (recorded && isDnsmasq(recorded)) await this.kill(recorded);
    return this.launch(key, args, files, known?.restarts ?? []);
  }

  /** Asks dnsmasq to re-read its host files (SIGHUP). */
  reload(key: string): void {
    const e = this.running.get(key);
    if (e && isDnsmasq(e.pid)) process.kill(e.pid, 'SIGHUP');
  }

  /** The PID supervised for key, or 0. */
  pidOf(key: string): number {
    return this.running.get(key)?.pid ?? 0;
  }

  /** Stops dnsmasq for key (also one left by an earlier daemon) and removes its PID file. */
  async stop(key: string, files: DnsmasqFiles): Promise<void> {
    this.wanted.delete(key);
    const pid = this.running.get(key)?.pid || (await readPid(files.pid));
    this.running.delete(key);
    if (pid && isDnsmasq(pid)) await this.kill(pid);
    await unlink(files.pid).catch(() => undefined);
  }

  /** The daemon is stopping: leave every dnsmasq running, unsupervised. */
  release(): void {
    this.released = true;
    this.running.clear();
  }

  private async kill(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    if (await exited(pid, 5000)) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    await exited(pid, 5000);
  }

  private async launch(key: string, args: string[], files: DnsmasqFiles, restarts: number[]): Promise<number> {
    const fd = openSync(files.log, 'a', 0o600);
    let pid: number;
    let early: Promise<void>;
    try {
      const child = spawn(BINARY, args, { detached: true, stdio: ['ignore', fd, fd] });
      early = new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, sig) => reject(new Error(`exit status ${String(code ?? sig)}`)));
        setTimeout(resolve, STARTUP_GRACE_MS).unref();
      });
      await early.catch(async (err: Error) => {
        const tail = (await readFile(files.log, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' ');
        throw new Error(`The DNS and DHCP service exited prematurely: ${err.message} (${JSON.stringify(tail)})`);
      });
      child.removeAllListeners('exit');
      child.unref();
      pid = child.pid!;
    } finally {
      closeSync(fd);
    }
    await writeFile(files.pid, `${pid}\n`, { mode: 0o600 });
    this.supervise(key, { pid, args, files, restarts });
    return pid;
  }

  private supervise(key: string, entry: Entry): void {
    this.running.set(key, entry);
    const w = watchPid(entry.pid);
    if (!w) return;
    void w.then(() => this.exitedUnexpectedly(key, entry));
  }

  private exitedUnexpectedly(key: string, entry: Entry): void {
    if (this.released || this.running.get(key) !== entry) return;
    this.running.delete(key);
    const now = Date.now();
    const recent = entry.restarts.filter((t) => now - t < 60_000);
    if (recent.length >= MAX_RESTARTS_PER_MINUTE) {
      this.log.error('dnsmasq keeps exiting, giving up', { network: key });
      return;
    }
    this.log.warn('dnsmasq exited, restarting it', { network: key, pid: String(entry.pid) });
    const timer = setTimeout(() => {
      if (this.released || this.running.has(key) || !this.wanted.has(key)) return;
      this.launch(key, entry.args, entry.files, [...recent, now]).catch((err: Error) =>
        this.log.error('Failed to restart dnsmasq', { network: key, err: err.message }),
      );
    }, 1000);
    timer.unref();
  }
}
