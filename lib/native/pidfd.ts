/**
 * Process exit watching through pidfds: the addon opens the pidfd and polls
 * it on the event loop (no pool thread is parked), this module closes it.
 */
import { closeSync } from 'node:fs';
import { binding } from './addon';
import { NativeError } from './errors';
import { checkPid } from './validate';

/**
 * Starts watching pid. Returns null when the process is already gone,
 * otherwise a promise that resolves when it exits (the pidfd is closed then).
 */
export function watchPid(pid: number): Promise<void> | null {
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
  // The poll handle is closed before the promise settles, so closing the
  // fd here cannot pull it from under libuv.
  return b.pollReadable(fd).then(
    () => closeSync(fd),
    (err: unknown) => {
      closeSync(fd);
      throw NativeError.from(err, { op: 'waitPidExit' });
    },
  );
}

/** Resolves when the process exits (pidfd); resolves at once if it is already gone. */
export async function waitPidExit(pid: number): Promise<void> {
  await watchPid(pid);
}
