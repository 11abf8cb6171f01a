/**
 * Argument checks run before any native call, so that a caller's mistake
 * is a precise TypeError/RangeError and never reaches liblxc.
 */
import { isAbsolute } from 'node:path';

/** A container name liblxc accepts as a path component. */
export function checkName(op: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new TypeError(`${op}: invalid container name ${JSON.stringify(name)}`);
  }
}

/** An absolute path without NUL bytes. */
export function checkPath(op: string, what: string, p: unknown): asserts p is string {
  if (typeof p !== 'string' || !isAbsolute(p) || p.includes('\0')) {
    throw new TypeError(`${op}: ${what} must be an absolute path, got ${JSON.stringify(p)}`);
  }
}

/** A timeout in whole seconds, -1 meaning no limit. */
export function checkTimeout(op: string, sec: unknown): asserts sec is number {
  if (typeof sec !== 'number' || !Number.isInteger(sec) || sec < -1) {
    throw new RangeError(`${op}: timeoutSec must be an integer >= -1, got ${String(sec)}`);
  }
}

/** A cgroup file name such as memory.limit_in_bytes (no path separators). */
export function checkCgroupKey(op: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || !/^[a-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key)) {
    throw new TypeError(`${op}: invalid cgroup key ${JSON.stringify(key)}`);
  }
}

/** A positive integer PID. */
export function checkPid(op: string, pid: unknown): asserts pid is number {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) {
    throw new RangeError(`${op}: pid must be a positive integer, got ${String(pid)}`);
  }
}
