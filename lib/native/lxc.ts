/**
 * Typed container operations over liblxc for the instance driver: start
 * through the incusd-helper forkstart subprocess, everything else through
 * the addon (command socket, cgroup files, pidfds). Also re-exports the
 * rest of lib/native so that drivers import one module.
 */
import { open, stat } from 'node:fs/promises';
import { binding } from './addon';
import type { BatchStateEntry, LxcState } from './binding';
import { NativeError, wrapNative } from './errors';
import { helperFailure, runHelper } from './helper';
import { stopContainer } from './lxc-stop';
import { checkCgroupKey, checkName, checkPath, checkTimeout } from './validate';

export type { BatchStateEntry, LxcState } from './binding';
export { NativeError } from './errors';
export { waitPidExit } from './pidfd';
export { probeIdmappedMounts, shiftTree } from './idmap';

/** Where a container lives: liblxc's lxcpath, its config file and its log. */
export interface LxcRef {
  name: string;
  lxcpath: string;
  configPath: string;
  logPath: string;
}

/** The part of LxcRef that reaches a running container's command socket. */
export type LxcHandle = Pick<LxcRef, 'name' | 'lxcpath'>;

/** Lines of the container log appended to a start failure. */
const LOG_TAIL_LINES = 10;

function checkHandle(op: string, ref: LxcHandle): void {
  checkName(op, ref?.name);
  checkPath(op, 'lxcpath', ref.lxcpath);
}

function checkRef(op: string, ref: LxcRef): void {
  checkHandle(op, ref);
  checkPath(op, 'configPath', ref.configPath);
  checkPath(op, 'logPath', ref.logPath);
}

/** liblxc's version string, e.g. "5.0.2". */
export function lxcVersion(): string {
  return binding().lxcVersion();
}

/** Parses ref.configPath with liblxc; rejects with code EINVAL naming the bad line. */
export async function define(ref: LxcRef): Promise<void> {
  checkRef('define', ref);
  await wrapNative('define', ref.name, () => binding().define(ref.name, ref.lxcpath, ref.configPath));
}

/** Size of a file, 0 when it does not exist yet. */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** liblxc log levels below WARN, left out of a failure's tail when it has worse. */
const CHATTER = / (TRACE|DEBUG|INFO|NOTICE) /;
/** The levels that say why a start failed: shown first when present. */
const FAILURES = / (ERROR|CRIT|ALERT|FATAL) /;

/**
 * The last `lines` lines the log gained after byte `from`: only those at
 * ERROR or worse when there are any, else WARN (the monitor keeps writing
 * INFO lines while it aborts), or a note saying the log cannot be read.
 */
async function logTail(path: string, from: number, lines: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return `(no log at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(from <= size ? from : 0, size - 256 * 1024);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const all = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    const errors = all.filter((l) => FAILURES.test(l));
    const serious = all.filter((l) => !CHATTER.test(l));
    const chosen = (errors.length > 0 ? errors : serious.length > 0 ? serious : all).slice(-lines);
    return chosen.length > 0 ? chosen.join('\n') : `(nothing new in ${path})`;
  } finally {
    await fh.close();
  }
}

/**
 * Starts through incusd-helper forkstart (spawned with child_process, no
 * shell), resolves the init PID. Rejects with a NativeError {code, op:'start',
 * instance} whose message ends with the last ~10 lines this start wrote to
 * ref.logPath (WARN and worse when there are such lines).
 */
export async function start(ref: LxcRef): Promise<number> {
  checkRef('start', ref);
  const logFrom = await sizeOf(ref.logPath);
  const res = await runHelper(['forkstart', ref.name, ref.lxcpath, ref.configPath], {
    op: 'start',
    instance: ref.name,
  });
  const pid = Number.parseInt(res.stdout.trim(), 10);
  if (res.status === 0 && pid > 0) return pid;
  const { code, message } = helperFailure(res);
  const tail = await logTail(ref.logPath, logFrom, LOG_TAIL_LINES);
  throw new NativeError(`start ${ref.name}: ${message}\n${tail}`, { code, op: 'start', instance: ref.name });
}

/**
 * force (or timeoutSec 0): SIGKILL init and wait until the container is
 * down. Otherwise send the halt signal and wait up to timeoutSec (-1: no
 * limit) for init to exit, then kill it if still running, or, with
 * keepRunningOnTimeout, resolve false and leave it running. A reboot in
 * place of the halt is killed. Resolves true once stopped. No libuv pool
 * thread waits (see lxc-stop.ts).
 */
export async function stop(
  ref: LxcRef,
  opts: { force: boolean; timeoutSec: number; keepRunningOnTimeout?: boolean },
): Promise<boolean> {
  checkRef('stop', ref);
  checkTimeout('stop', opts?.timeoutSec);
  return wrapNative('stop', ref.name, () => stopContainer(ref, opts));
}

/** State and init PID (-1 when not running) through the command socket. */
export async function state(ref: LxcHandle): Promise<{ state: LxcState; pid: number }> {
  checkHandle('state', ref);
  return wrapNative('state', ref.name, () => binding().state(ref.name, ref.lxcpath));
}

/** A cgroup file's leaf name ("memory.stat"), or a file under /proc/<init pid>/ ("proc/net/dev"). */
const BATCH_FILE = /^(?:[a-z_]+\.[a-z_.]+|proc\/[a-z_]+(?:\/[a-z_]+)*)$/;

/**
 * State, PID and cgroup usage for many containers in one native call (-1
 * where unknown); with `files`, also the raw text of those files for each
 * running container (see BatchStateEntry.files); with `statfsPaths` (one per name, "" for
 * none), statfs(2) of each running container's path (BatchStateEntry.statfs).
 */
export async function batchState(lxcpath: string, names: string[], files?: string[], statfsPaths?: string[]): Promise<BatchStateEntry[]> {
  checkPath('batchState', 'lxcpath', lxcpath);
  if (!Array.isArray(names)) throw new TypeError('batchState: names must be an array');
  for (const n of names) checkName('batchState', n);
  if (files !== undefined) {
    if (!Array.isArray(files)) throw new TypeError('batchState: files must be an array');
    for (const f of files) if (typeof f !== 'string' || !BATCH_FILE.test(f)) throw new RangeError(`batchState: invalid file ${JSON.stringify(f)}`);
  }
  if (names.length === 0) return [];
  if (statfsPaths !== undefined) {
    if (!Array.isArray(statfsPaths) || statfsPaths.length !== names.length) throw new TypeError('batchState: statfsPaths must have one path per name');
    for (const p of statfsPaths) if (typeof p !== 'string' || (p !== '' && !p.startsWith('/')) || p.includes('\0')) throw new RangeError(`batchState: invalid statfs path ${JSON.stringify(p)}`);
  }
  return wrapNative('batchState', undefined, () => binding().batchState(lxcpath, names, files, statfsPaths));
}

/** Freezes through the freezer cgroup; resolves once frozen. */
export async function freeze(ref: LxcHandle): Promise<void> {
  checkHandle('freeze', ref);
  await wrapNative('freeze', ref.name, () => binding().freeze(ref.name, ref.lxcpath));
}

/** Thaws through the freezer cgroup; resolves once thawed. */
export async function unfreeze(ref: LxcHandle): Promise<void> {
  checkHandle('unfreeze', ref);
  await wrapNative('unfreeze', ref.name, () => binding().unfreeze(ref.name, ref.lxcpath));
}

/** Reads a cgroup file of a running container (liblxc get_cgroup_item), without the trailing newline. */
export async function getCgroupItem(ref: LxcHandle, key: string): Promise<string> {
  checkHandle('getCgroupItem', ref);
  checkCgroupKey('getCgroupItem', key);
  return wrapNative('getCgroupItem', ref.name, () => binding().getCgroupItem(ref.name, ref.lxcpath, key));
}

/** Writes a cgroup file of a running container (liblxc set_cgroup_item). */
export async function setCgroupItem(ref: LxcHandle, key: string, value: string): Promise<void> {
  checkHandle('setCgroupItem', ref);
  checkCgroupKey('setCgroupItem', key);
  if (typeof value !== 'string') throw new TypeError('setCgroupItem: value must be a string');
  await wrapNative('setCgroupItem', ref.name, () => binding().setCgroupItem(ref.name, ref.lxcpath, key, value));
}
