/**
 * Names of the host files that stand for devices ($INCUS_DIR/devices/<instance>/),
 * fstab escaping for liblxc mount entries, and dev_t decoding.
 */
import { join } from 'node:path';

/** A device name as a file name part holding no "." (so prefixes cannot collide). */
export function encodeDeviceName(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}

/** Incus's linux.PathNameEncode: "-" doubled, then "/" made "-" (a path as part of a file name). */
export function pathNameEncode(text: string): string {
  return text.replace(/-/g, '--').replace(/\//g, '-');
}

/** Incus's linux.PathNameDecode, the reverse of pathNameEncode. */
export function pathNameDecode(text: string): string {
  return text.replace(/--/g, '\0').replace(/-/g, '/').replace(/\0/g, '-');
}

/** Prefix of the host device nodes of device `name`: `unix.<name>.`, encoded. */
export function unixNodePrefix(name: string): string {
  return pathNameEncode(`unix.${name}.`);
}

/**
 * Host path of the node that device `name` puts at `containerPath`, named
 * as Incus names it: `unix.<name>.<path relative to />`, encoded
 * (unix.test--dev1.tmp-testdev for device test-dev1 at /tmp/testdev).
 */
export function unixNodeHostPath(devicesDir: string, name: string, containerPath: string): string {
  return join(devicesDir, pathNameEncode(`unix.${name}.${containerPath.replace(/^\/+/, '')}`));
}

/**
 * The container path encoded in a host node file name of device `name`, or
 * null when the file is not that device's. `others`: the instance's other
 * device names, so that device "a" does not claim the files of "a.b".
 */
export function containerPathOfNode(fileName: string, name: string, others: readonly string[] = []): string | null {
  const prefix = unixNodePrefix(name);
  if (!fileName.startsWith(prefix)) return null;
  for (const o of others) {
    const p = unixNodePrefix(o);
    if (o !== name && p.length > prefix.length && fileName.startsWith(p)) return null;
  }
  return '/' + pathNameDecode(fileName.slice(prefix.length));
}

/** The part of a node file name Incus compares to find two devices at one container path: after the last ".". */
export function nodeDestKey(fileName: string): string {
  return fileName.slice(fileName.lastIndexOf('.') + 1);
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
