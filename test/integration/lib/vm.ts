/**
 * Helpers of the VM tests: the test VM image built against a daemon, the
 * serial console polled for a marker, a command typed on the guest's
 * console shell, and the QEMU (or virtiofsd) processes a daemon left.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { attachConsole } from '../../../lib/client/console';
import type { TestDaemon } from './daemon';

const BUILDER = join(__dirname, '..', '..', '..', '..', 'bin', 'incus-image-builder');
/** How long a boot to the marker may take under TCG on a loaded host. */
export const BOOT_TIMEOUT_MS = 90_000;

/** Runs `incus ARGS` against the daemon and asserts success; returns stdout. */
export async function ok(t: Test, d: TestDaemon, args: string[]): Promise<string> {
  const r = await d.cli(args);
  t.equal(r.code, 0, `incus ${args.join(' ')}${r.code === 0 ? '' : `: ${r.stderr}`}`);
  return r.stdout;
}

/** `incus-image-builder busybox --vm --import testvm` against the daemon. */
export function buildTestVm(d: TestDaemon): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BUILDER, 'busybox', '--vm', '--output', join(d.dir, 'testvm'), '--import', 'testvm'], {
    env: { ...process.env, ...d.cliEnv },
    encoding: 'utf8',
    timeout: 600_000,
  });
}

/** Live (not zombie) processes whose argv[0] contains `bin` and an argument of which lies under the daemon's directory. */
export function pidsOf(d: TestDaemon, bin: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (argv[0]?.includes(bin) && argv.some((a) => a.includes(d.dir))) out.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** The daemon's QEMU processes. */
export function qemuPids(d: TestDaemon): number[] {
  return pidsOf(d, 'qemu-system');
}

/** Waits until no `bin` process of the daemon is left; returns those still there at the deadline. */
export async function waitGone(d: TestDaemon, bin: string, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let pids = pidsOf(d, bin);
  while (pids.length > 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 200));
    pids = pidsOf(d, bin);
  }
  return pids;
}

/** Polls the console log until `re` matches; returns the match, or null at the deadline. */
export async function waitConsole(d: TestDaemon, name: string, re: RegExp, timeoutMs = BOOT_TIMEOUT_MS): Promise<RegExpMatchArray | null> {
  const deadline = Date.now() + timeoutMs;
  let log = '';
  while (Date.now() < deadline) {
    log += (await d.cli(['console', name, '--show-log'])).stdout;
    const m = log.match(re);
    if (m) return m;
    await new Promise((res) => setTimeout(res, 1000));
  }
  return null;
}

/**
 * Types `cmd` on the guest's console shell until `re` shows in the output
 * (input sent before the bridge to the serial port is up is lost, as on a
 * real serial line); returns what the console printed.
 */
export async function guestRun(d: TestDaemon, name: string, cmd: string, re: RegExp, timeoutMs = 30_000): Promise<string> {
  const att = await attachConsole(d.client, name, {});
  let out = '';
  att.data.on('message', (m: Buffer) => (out += m.toString('utf8')));
  const deadline = Date.now() + timeoutMs;
  while (!re.test(out) && Date.now() < deadline) {
    att.data.send(Buffer.from(`${cmd}\n`), { binary: true });
    await new Promise((res) => setTimeout(res, 2000));
  }
  att.control.close();
  att.data.close();
  await att.operation.wait().catch(() => undefined);
  return out;
}
