/**
 * Process exit watching through pidfds: the addon opens the pidfd and polls
 * it on the event loop (no pool thread is parked), this module closes it.
 */
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { binding } from './addon';
import { NativeError } from './errors';
import { checkPid } from './validate';

/** A process held through its pidfd: signalled and watched without PID reuse races. */
export interface PidWatch {
  readonly pid: number;
  /** Resolves when the process has exited; the pidfd is closed then. */
  readonly exited: Promise<void>;
  /** Sends sig through the pidfd; false when the process has already exited. */
  signal(sig: NodeJS.Signals): boolean;
}

/**
 * Opens a pidfd on pid and starts watching it. Returns null when the
 * process is already gone. The watch lasts until the process exits.
 */
export function holdPid(pid: number): PidWatch | null {
  checkPid('waitPidExit', pid);
  const b = binding();
  let fd: number;
  try {
    fd = b.pidfdOpen(pid);
  } catch (err) {
    const e = NativeError.from(err, { op: 'waitPidExit' });
    if (e.code === 'ESRCH') return null;
    throw e;
  }
  let open = true;
  // The poll handle is closed before the promise settles, so closing the
  // fd here cannot pull it from under libuv.
  const exited = b.pollReadable(fd).then(
    () => {
      open = false;
      closeSync(fd);
    },
    (err: unknown) => {
      open = false;
      closeSync(fd);
      throw NativeError.from(err, { op: 'waitPidExit' });
    },
  );
  // Keep a late rejection from going unhandled when nobody waits.
  exited.catch(() => undefined);
  return {
    pid,
    exited,
    signal(sig: NodeJS.Signals): boolean {
      if (!open) return false;
      try {
        b.pidfdSendSignal(fd, constants.signals[sig]);
        return true;
      } catch (err) {
        const e = NativeError.from(err, { op: 'kill' });
        if (e.code === 'ESRCH') return false;
        throw e;
      }
    },
  };
}

/**
 * Starts watching pid. Returns null when the process is already gone,
 * otherwise a promise that resolves when it exits (the pidfd is closed then).
 */
export function watchPid(pid: number): Promise<void> | null {
  return holdPid(pid)?.exited ?? null;
}

/** Resolves when the process exits (pidfd); resolves at once if it is already gone. */
export async function waitPidExit(pid: number): Promise<void> {
  await watchPid(pid);
}
