/** Writes the busybox rootfs tree into a staging directory. */

import fs from 'node:fs/promises';
import path from 'node:path';
import { BUSYBOX_PATH, appletLinkTarget } from './applets';
import { ROOTFS_DIRS, ROOTFS_FILES, ROOTFS_LINKS } from './rootfs-files';

/**
 * Fills `rootfs` (an empty or missing directory) with the busybox binary
 * copied from `busyboxBinary`, one relative symlink per applet, and the
 * files and directories of rootfs-files.ts. Modes are set explicitly so
 * the caller's umask does not matter; ownership is left to tar.
 */
export async function writeBusyboxRootfs(rootfs: string, busyboxBinary: string, applets: readonly string[]): Promise<void> {
  await fs.mkdir(rootfs, { recursive: true, mode: 0o755 });
  await fs.chmod(rootfs, 0o755);
  for (const dir of ROOTFS_DIRS) {
    const p = path.join(rootfs, dir.path);
    await fs.mkdir(p, { recursive: true });
    await fs.chmod(p, dir.mode);
  }

  const bin = path.join(rootfs, BUSYBOX_PATH);
  await fs.copyFile(busyboxBinary, bin);
  await fs.chmod(bin, 0o755);

  for (const applet of applets) {
    const link = path.join(rootfs, applet);
    const dir = path.dirname(link);
    await fs.mkdir(dir, { recursive: true });
    await fs.chmod(dir, 0o755);
    await fs.symlink(appletLinkTarget(applet), link);
  }

  for (const file of ROOTFS_FILES) {
    const p = path.join(rootfs, file.path);
    await fs.writeFile(p, file.content, { mode: file.mode });
    await fs.chmod(p, file.mode);
  }
  for (const l of ROOTFS_LINKS) {
    await fs.symlink(l.target, path.join(rootfs, l.path));
  }
}
