/**
 * Names of the host files that stand for devices ($INCUS_DIR/devices/<instance>/),
 * fstab escaping for liblxc mount entries, and dev_t decoding.
 */
import { join } from 'node:path';

/** A device name as a file name part holding no "." (so prefixes cannot collide). */
export function encodeDeviceName(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}

/** Prefix of the host device nodes of device `name`: `unix.<name>.`. */
export function unixNodePrefix(name: string): string {
  return `unix.${encodeDeviceName(name)}.`;
}

/**
 * Host path of the node that device `name` puts at `containerPath`. The
 * path is percent-encoded (Incus's "-" encoding cannot be read back), so
 * unplugging finds the container path again from the file name.
 */
export function unixNodeHostPath(devicesDir: string, name: string, containerPath: string): string {
  return join(devicesDir, unixNodePrefix(name) + encodeURIComponent(containerPath.replace(/^\/+/, '')));
}

/** The container path encoded in a host node file name of device `name`, or null. */
export function containerPathOfNode(fileName: string, name: string): string | null {
  const prefix = unixNodePrefix(name);
  if (!fileName.startsWith(prefix)) return null;
  try {
    return '/' + decodeURIComponent(fileName.slice(prefix.length));
  } catch {
    return null;
  }
}

/** A path as an fstab field (liblxc's lxc.mount.entry): blanks and backslashes escaped. */
export function fstabEscape(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/ /g, '\\040').replace(/\t/g, '\\011').replace(/\n/g, '\\012');
}

/** Linux dev_t to major/minor (glibc's gnu_dev_major/minor layout). */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}
