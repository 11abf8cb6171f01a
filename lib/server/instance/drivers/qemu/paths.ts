/**
 * The files of one VM, named as Incus names them: runtime files (config,
 * pidfile, sockets) in the run directory, logs in the log directory, the
 * NVRAM in the VM's config volume.
 */
import { join } from 'node:path';
import { NVRAM_FILE } from './firmware';

/** Every path the QEMU driver uses for one VM. */
export interface QemuPaths {
  /** Directory of the runtime files below (created by the starter). */
  runDir: string;
  /** `-readconfig` file: `<runDir>/qemu.conf`. */
  conf: string;
  /** `-pidfile`: `<runDir>/qemu.pid`. */
  pidfile: string;
  /** QMP socket: `<runDir>/qemu.monitor`. */
  monitor: string;
  /** Serial console socket while `incus console` is attached: `<runDir>/qemu.console`. */
  console: string;
  /** virtio-serial guest agent port socket: `<runDir>/qemu.agent`. */
  agent: string;
  /** SPICE socket (for `incus console --type vga`): `<runDir>/qemu.spice`. */
  spice: string;
  /** Directory of the logs below. */
  logDir: string;
  /** QEMU's own log (`-D`, also its stderr once daemonized): `<logDir>/qemu.log`. */
  log: string;
  /** The serial console's saved output (drained from the ring buffer): `<logDir>/console.log`. */
  consoleLog: string;
  /** `<configDir>/qemu.nvram`. */
  nvram: string;
}

/** Longest Unix socket path (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Builds the paths for a VM from its three directories. */
export function qemuPaths(dirs: { runDir: string; logDir: string; configDir: string }): QemuPaths {
  const r = (f: string): string => join(dirs.runDir, f);
  return {
    runDir: dirs.runDir,
    conf: r('qemu.conf'),
    pidfile: r('qemu.pid'),
    monitor: r('qemu.monitor'),
    console: r('qemu.console'),
    agent: r('qemu.agent'),
    spice: r('qemu.spice'),
    logDir: dirs.logDir,
    log: join(dirs.logDir, 'qemu.log'),
    consoleLog: join(dirs.logDir, 'console.log'),
    nvram: join(dirs.configDir, NVRAM_FILE),
  };
}

/** Throws when a socket path is too long for a Unix socket (QEMU would fail less clearly). */
export function checkSocketPaths(paths: QemuPaths): void {
  for (const p of [paths.monitor, paths.console, paths.agent, paths.spice]) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw new Error(`Socket path too long (${Buffer.byteLength(p)} > ${MAX_SOCKET_PATH} bytes): ${p}`);
    }
  }
}
