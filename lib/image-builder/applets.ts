/** Pure parsing of what a busybox binary says about itself. */

import path from 'node:path';

/** Where the busybox binary lives inside the image's rootfs. */
export const BUSYBOX_PATH = 'bin/busybox';

/**
 * Parses `busybox --list-full` output into rootfs-relative applet paths
 * (`bin/sh`, `usr/bin/awk`, ...), sorted and without duplicates.
 * Drops `bin/busybox` itself, so the binary is never replaced by a link to
 * itself, and rejects any path that could leave the rootfs.
 * @throws RangeError on an absolute path or one containing `..`.
 */
export function parseAppletList(output: string): string[] {
  const seen = new Set<string>();
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const rel = path.posix.normalize(line);
    if (path.posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../')) {
      throw new RangeError(`Applet path escapes the rootfs: ${line}`);
    }
    if (rel === BUSYBOX_PATH || rel === '.') continue;
    seen.add(rel);
  }
  return [...seen].sort();
}

/**
 * Extracts the version from the banner busybox prints first
 * (`BusyBox v1.35.0 (Debian 1:1.35.0-4) multi-call binary.` gives `1.35.0`).
 * @throws RangeError when the banner has no version.
 */
export function parseBusyboxVersion(banner: string): string {
  const m = /BusyBox v(\d+(?:\.\d+)*(?:[.-][0-9A-Za-z.]+)?)/.exec(banner);
  if (m === null) {
    throw new RangeError('No BusyBox version in the banner');
  }
  return m[1];
}

/**
 * The symlink target for an applet: relative, so the link resolves to
 * `/bin/busybox` both inside the container and in an extracted tree
 * (`usr/bin/awk` gives `../../bin/busybox`).
 */
export function appletLinkTarget(applet: string): string {
  return path.posix.relative(path.posix.dirname(applet), BUSYBOX_PATH);
}
