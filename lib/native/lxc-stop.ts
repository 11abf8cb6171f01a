/**
 * Stopping a container without parking libuv's pool: liblxc's stop() and
 * wait() block a thread until the container is down (up to the timeout),
 * and the pool has only four threads shared with all file I/O. Here every
 * native call is one bounded round trip; the waits are pidfds of init and
 * of its liblxc monitor polled on the event loop, and state re-checks on
 * timers.
 */
import { readFileSync } from 'node:fs';
import { binding } from './addon';
import type { LxcState, NativeBinding } from './binding';
import { NativeError } from './errors';
import { commandSocketClosed } from './lxc-command-socket';
import { type PidWatch, holdPid } from './pidfd';

/** Where a container lives, as stop needs it. */
export interface StopTarget {
  name: string;
  lxcpath: string;
  configPath: string;
}

/** How to stop: see stopContainer. */
export interface StopRequest {
  force: boolean;
  timeoutSec: number;
  /** When the clean shutdown times out: leave init running and resolve false instead of killing it. */
  keepRunningOnTimeout?: boolean;
}

/** Bound, in seconds, on the container being down once init exited or was SIGKILLed. */
const SETTLE_SEC = 30;
/** Once init exited: how long a live monitor may keep reporting STOPPED before we stop waiting for it to exit. */
const MONITOR_GRACE_MS = 2000;
/** State re-checks while settling: first after this long, doubling up to the maximum. */
const RECHECK_MIN_MS = 50;
const RECHECK_MAX_MS = 500;

/** Resolves true when p settles within ms (negative: no limit). */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  if (ms < 0) {
    await p;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The liblxc monitor of a running init: its parent, held by a pidfd, when
 * its command line says it is one. It exits once the container is down
 * (and stays through a reboot, which gives init a new PID).
 */
function monitorOf(initPid: number): PidWatch | null {
  // Two small procfs reads (bounded, no disk): read in place rather than
  // queued behind file I/O on the pool, as the kill path is latency-bound.
  try {
    const stat = readFileSync(`/proc/${initPid}/stat`, 'utf8');
    // Fields after "(comm) ": state, ppid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!(ppid > 1)) return null;
    const cmdline = readFileSync(`/proc/${ppid}/cmdline`, 'utf8');
    return cmdline.startsWith('[lxc monitor]') ? holdPid(ppid) : null;
  } catch {
    // init or the monitor already gone: settle by state alone.
    return null;
  }
}

const isFrozen = (s: LxcState): boolean => s === 'FROZEN' || s === 'FREEZING';

/** SIGKILLs init; a frozen v1 cgroup is thawed so that the signal lands (as liblxc's monitor does). */
async function killInit(b: NativeBinding, t: StopTarget, init: PidWatch | null, frozen: boolean): Promise<void> {
  if (!init?.signal('SIGKILL')) return;
  if (frozen) await b.unfreeze(t.name, t.lxcpath).catch(() => undefined);
}

/**
 * Waits until the container is down after init was told to go: init's exit,
 * then the monitor closing its command socket or exiting (or STOPPED when
 * there is no monitor to watch). A
 * new init meanwhile means the halt signal asked for a reboot: stop means
 * stop, so it is SIGKILLed too. Rejects with ETIMEDOUT after SETTLE_SEC.
 */
async function settle(b: NativeBinding, t: StopTarget, init: PidWatch | null, knownPid: number, monitor: PidWatch | null): Promise<void> {
  const deadline = Date.now() + SETTLE_SEC * 1000;
  const timedOut = (): NativeError =>
    new NativeError(`still not stopped ${SETTLE_SEC} s after init was told to end`, { code: 'ETIMEDOUT', op: 'stop', instance: t.name });
  if (init && !(await within(init.exited, deadline - Date.now()))) throw timedOut();
  const initGone = Date.now();
  // The monitor closes its command socket once the container is down, a
  // little before it exits: whichever comes first.
  const ac = new AbortController();
  const down = monitor ? Promise.race([monitor.exited, commandSocketClosed(t.lxcpath, t.name, ac.signal)]) : null;
  let delay = RECHECK_MIN_MS;
  try {
    for (;;) {
      if (down) {
        if (await within(down, delay)) return;
      } else {
        await new Promise((r) => setTimeout(r, delay));
      }
      const s = await b.state(t.name, t.lxcpath);
      if (s.state === 'STOPPED' && (!monitor || Date.now() - initGone > MONITOR_GRACE_MS)) return;
      if (s.pid > 0 && s.pid !== knownPid) {
        knownPid = s.pid;
        await killInit(b, t, holdPid(s.pid), isFrozen(s.state));
      }
      if (Date.now() > deadline) throw timedOut();
      delay = Math.min(delay * 2, RECHECK_MAX_MS);
    }
  } finally {
    ac.abort();
  }
}

/**
 * force (or timeoutSec 0): SIGKILL init, then wait until the container is
 * down. Otherwise send the halt signal and wait up to timeoutSec (-1: no
 * limit) for init to exit; on timeout, kill it, or with keepRunningOnTimeout
 * resolve false leaving it running. Resolves true once the container is
 * down.
 */
export async function stopContainer(t: StopTarget, req: StopRequest): Promise<boolean> {
  const b = binding();
  const cur = await b.state(t.name, t.lxcpath);
  if (cur.state === 'STOPPED') return true;
  const init = cur.pid > 0 ? holdPid(cur.pid) : null;
  const monitor = cur.pid > 0 ? monitorOf(cur.pid) : null;
  if (req.force || req.timeoutSec === 0) {
    await killInit(b, t, init, isFrozen(cur.state));
    await settle(b, t, init, cur.pid, monitor);
    return true;
  }
  // A frozen init cannot act on the halt signal.
  if (isFrozen(cur.state)) await b.unfreeze(t.name, t.lxcpath);
  await b.shutdown(t.name, t.lxcpath, t.configPath);
  const clean = init ? await within(init.exited, req.timeoutSec < 0 ? -1 : req.timeoutSec * 1000) : true;
  if (!clean) {
    if (req.keepRunningOnTimeout) return false;
    await killInit(b, t, init, false);
  }
  await settle(b, t, init, cur.pid, monitor);
  return true;
}
