/**
 * The test VM's initramfs: busybox and its applet links, /init, the udhcpc
 * hook and a few /etc files, and the kernel kit's modules; a gzip'd newc
 * cpio (gzip from zlib: no timestamp, so equal inputs give equal bytes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { appletLinkTarget, BUSYBOX_PATH } from '../applets';
import { type CpioEntry, writeCpio } from './cpio';
import { guestEtcFiles, INIT_SCRIPT } from './guest-init';
import type { KernelKit } from './kernel-kit';

/** What goes into the initramfs. */
export interface InitramfsInput {
  /** Static busybox binary. */
  busybox: string;
  /** Its applets, root-relative (`bin/sh`, `sbin/modprobe`...), without bin/busybox. */
  applets: readonly string[];
  kit: KernelKit;
  /** Modules /init loads by name, in order (the rest load by device alias). */
  bootModules: readonly string[];
  /** mtime of every member, Unix seconds. */
  mtime: number;
}

const EMPTY_DIRS: readonly [string, number][] = [
  ['dev', 0o755], ['etc', 0o755], ['mnt', 0o755], ['proc', 0o755], ['root', 0o700], ['run', 0o755],
  ['sys', 0o755], ['tmp', 0o1777], ['usr/share/udhcpc', 0o755], ['var/run', 0o755],
];

/** Every parent directory of a relative path (`a/b/c` gives `a`, `a/b`). */
function parents(p: string): string[] {
  const parts = p.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** The member list, directories first (sorted, so parents precede children), then the rest by path. */
export async function initramfsEntries(input: InitramfsInput): Promise<CpioEntry[]> {
  const dirs = new Map<string, number>(EMPTY_DIRS);
  const rest: CpioEntry[] = [];
  const add = (e: CpioEntry): void => {
    for (const d of parents(e.path)) if (!dirs.has(d)) dirs.set(d, 0o755);
    rest.push(e);
  };
  add({ kind: 'file', path: BUSYBOX_PATH, mode: 0o755, data: await fs.readFile(input.busybox) });
  for (const a of input.applets) add({ kind: 'symlink', path: a, target: appletLinkTarget(a) });
  add({ kind: 'file', path: 'init', mode: 0o755, data: Buffer.from(INIT_SCRIPT) });
  for (const f of guestEtcFiles(input.bootModules)) add({ kind: 'file', path: f.path, mode: f.mode, data: Buffer.from(f.content) });
  add({ kind: 'symlink', path: 'usr/share/udhcpc/default.script', target: '../../../etc/udhcpc.script' });
  // The kernel opens /dev/console for /init before anything can mount devtmpfs.
  add({ kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 });
  const modRoot = path.posix.join('lib/modules', input.kit.kernelVersion);
  for (const f of [...input.kit.moduleFiles, 'modules.dep', 'modules.alias', 'modules.builtin']) {
    add({ kind: 'file', path: path.posix.join(modRoot, f), mode: 0o644, data: await fs.readFile(path.join(input.kit.modulesDir, f)) });
  }
  const dirEntries: CpioEntry[] = [...dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, mode]) => ({ kind: 'dir', path: p, mode }));
  rest.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return [...dirEntries, ...rest];
}

/** Writes the gzip'd cpio to `output`. */
export async function writeInitramfs(input: InitramfsInput, output: string): Promise<void> {
  const cpio = writeCpio(await initramfsEntries(input), input.mtime);
  await fs.writeFile(output, gzipSync(cpio, { level: 9 }));
}
