/**
 * virtiofsd for a VM's host-path disk shares: one daemon per share,
 * listening on `<runDir>/virtio-fs.<device>.sock` for QEMU's vhost-user-fs
 * device, its pid in `virtio-fs.<device>.pid` and its log in
 * `<logDir>/disk.<device>.log`, as Incus lays them out. It exits by itself
 * once QEMU lets go of the socket; stopVirtiofsds ends any still there.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MAX_SOCKET_PATH, type QemuPaths } from './paths';

/** Where distributions install virtiofsd when it is not on PATH (Incus's list). */
const FALLBACK_PATHS = ['/usr/lib/qemu/virtiofsd', '/usr/libexec/virtiofsd', '/usr/lib/virtiofsd'];
const SOCKET_WAIT_MS = 5000;

/** The virtiofsd binary (INCUS_VIRTIOFSD_PATH, then PATH, then the usual places), or null: shares fall back to 9p. */
export function findVirtiofsd(): string | null {
  const forced = process.env.INCUS_VIRTIOFSD_PATH;
  if (forced !== undefined) return forced && existsSync(forced) ? forced : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'virtiofsd'))) return join(dir, 'virtiofsd');
  }
  return FALLBACK_PATHS.find((p) => existsSync(p)) ?? null;
}

/** Files of one share's virtiofsd. */
export function virtiofsdFiles(paths: QemuPaths, device: string): { socket: string; pidfile: string; log: string } {
  const safe = device.replace(/[^A-Za-z0-9_.-]/g, '_');
  return {
    socket: join(paths.runDir, `virtio-fs.${safe}.sock`),
    pidfile: join(paths.runDir, `virtio-fs.${safe}.pid`),
    log: join(paths.logDir, `disk.${safe}.log`),
  };
}

/** True when the socket path fits a Unix socket address. */
export function virtiofsSocketFits(paths: QemuPaths, device: string): boolean {
  return Buffer.byteLength(virtiofsdFiles(paths, device).socket) <= MAX_SOCKET_PATH;
}

/**
 * The Rust virtiofsd takes `--shared-dir`/`--cache=never`; QEMU's older C
 * one (Debian 12) `-o source=`/`-o cache=none`. Told apart by its --help.
 */
function virtiofsdArgs(binary: string, socket: string, dir: string): string[] {
  if ((cachedHelp.get(binary) ?? '').includes('--shared-dir')) return [`--socket-path=${socket}`, `--shared-dir=${dir}`, '--cache=never'];
  return [`--socket-path=${socket}`, '-o', `source=${dir}`, '-o', 'cache=none'];
}

const cachedHelp = new Map<string, string>();

/** Reads the binary's --help once (asynchronously), to pick its argument syntax. */
async function loadHelp(binary: string): Promise<void> {
  if (cachedHelp.has(binary)) return;
  const text = await new Promise<string>((resolve) => {
    const child = spawn(binary, ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', () => resolve(''));
    child.on('close', () => resolve(out));
  });
  cachedHelp.set(binary, text);
}

/**
 * Starts virtiofsd for one share and resolves once its socket is there
 * (QEMU connects at start-up and fails on a missing socket).
 */
export async function startVirtiofsd(binary: string, paths: QemuPaths, device: string, dir: string): Promise<string> {
  const f = virtiofsdFiles(paths, device);
  await mkdir(paths.runDir, { recursive: true });
  await mkdir(paths.logDir, { recursive: true });
  await rm(f.socket, { force: true });
  await loadHelp(binary);
  const log = await open(f.log, 'a', 0o600);
  let exited: string | null = null;
  try {
    const child = spawn(binary, virtiofsdArgs(binary, f.socket, dir), { detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.on('error', (err) => (exited = err.message));
    child.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
    child.unref();
    if (child.pid) await writeFile(f.pidfile, `${child.pid}\n`);
  } finally {
    await log.close();
  }
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (!existsSync(f.socket)) {
    if (exited !== null || Date.now() > deadline) {
      const tail = (await readFile(f.log, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' ');
      await stopVirtiofsds(paths);
      throw new Error(`Failed to start virtiofsd for "${device}" (${exited ?? 'no socket'}): ${tail}`);
    }
    await new Promise((res) => setTimeout(res, 20));
  }
  return f.socket;
}

/** Ends the virtiofsd processes whose pidfiles are in the VM's run directory (only when the pid is still a virtiofsd on that socket). */
export async function stopVirtiofsds(paths: QemuPaths): Promise<void> {
  const names = await readdir(paths.runDir).catch(() => [] as string[]);
  for (const n of names.filter((x) => x.startsWith('virtio-fs.') && x.endsWith('.pid'))) {
    const pidfile = join(paths.runDir, n);
    const socket = pidfile.replace(/\.pid$/, '.sock');
    const pid = Number((await readFile(pidfile, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (argv.includes('virtiofsd') && argv.includes(socket)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Gone meanwhile.
        }
      }
    }
    await rm(pidfile, { force: true });
    await rm(socket, { force: true });
  }
}

/** Longest mount tag Incus gives a virtiofs share (and a 9p one: 9p tags are shorter). */
export const MOUNT_TAG_MAX = 30;
export const MOUNT_TAG_9P_MAX = 25;

/** Incus's mount tag of a device's share: `incus_<device>`, the name hashed (base64url of SHA-256) when longer than maxLength. */
export function mountTagName(device: string, maxLength: number): string {
  const name = device.length > maxLength ? createHash('sha256').update(device).digest('base64url').slice(0, maxLength) : device;
  return `incus_${name}`;
}
