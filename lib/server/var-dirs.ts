/**
 * The daemon's own directories under INCUS_DIR and their modes, as Incus
 * keeps them (internal/server/sys/fs.go initDirs): created where missing and
 * chmod'ed where they exist, so that an older installation is closed up at
 * start. Only what the runtime must traverse is 0711; the rest is root's.
 */
import { join } from 'node:path';
import { mkdirMode } from './storage/modes';

const VAR_DIRS: readonly [string, number][] = [
  ['', 0o711],
  // containers/<name> links to the volume: the runtime traverses to the rootfs.
  ['containers', 0o711],
  ['virtual-machines', 0o711],
  // <type>-snapshots/<name> links to a pool's snapshots: root's alone, as Incus.
  ['containers-snapshots', 0o700],
  ['virtual-machines-snapshots', 0o700],
  ['devices', 0o711],
  // /dev/incus in containers: the guest API socket's directory, mounted before the daemon has listened.
  ['guestapi', 0o755],
  ['networks', 0o711],
  ['storage-pools', 0o711],
  ['backups', 0o700],
  ['database', 0o700],
  ['disks', 0o700],
  ['images', 0o700],
  ['logs', 0o700],
  ['security', 0o700],
];

/** Creates or closes up INCUS_DIR's top-level directories (one mkdir and chmod each). */
export async function ensureVarDirs(varDir: string): Promise<void> {
  for (const [name, mode] of VAR_DIRS) await mkdirMode(join(varDir, name), mode);
}
