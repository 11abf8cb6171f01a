/**
 * Issue 09, defect 3 at the native boundary: many concurrent clean stops of
 * containers whose init reboots on the halt signal (busybox init: SIGTERM)
 * must leave libuv's pool free. The old stop spent seconds per container in
 * liblxc wait() on a pool thread (4 threads), so that any other native call
 * or file read queued behind them. Private lxcpath, busybox rootfs, as
 * native.test.ts. Runs as root.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { start, state, stop, type LxcRef } from '../../lib/native/lxc';

/** Three times libuv's default pool. */
const COUNT = 12;
/** Old code: reads queued for seconds; fixed: a few ms. Generous for a loaded 2-core box. */
const BOUND_MS = 1500;

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root');
  process.exit(0);
}

const work = mkdtempSync('/tmp/incus-stall-');
chmodSync(work, 0o755);
const lxcpath = join(work, 'lxc');
mkdirSync(lxcpath, { mode: 0o755 });
const rootfs = join(work, 'rootfs');
const refs: LxcRef[] = [];

function buildRootfs(dir: string): void {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'dev', 'proc', 'sys', 'tmp', 'run', 'root', 'var']) {
    mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  }
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n')) {
    if (a === '' || a === 'bin/busybox') continue;
    mkdirSync(dirname(join(dir, a)), { recursive: true, mode: 0o755 });
    if (!existsSync(join(dir, a))) symlinkSync('/bin/busybox', join(dir, a));
  }
  writeFileSync(join(dir, 'etc/inittab'), '::sysinit:/bin/true\n::shutdown:/bin/true\n');
}

function container(i: number): LxcRef {
  const name = `st${process.pid}-${i}`;
  const dir = join(lxcpath, name);
  mkdirSync(dir, { mode: 0o755 });
  const ref: LxcRef = { name, lxcpath, configPath: join(dir, 'lxc.conf'), logPath: join(dir, 'lxc.log') };
  const lines = [
    `lxc.uts.name = ${name}`,
    `lxc.rootfs.path = dir:${rootfs}`,
    'lxc.rootfs.options = idmap=container',
    'lxc.idmap = u 0 1000000 65536',
    'lxc.idmap = g 0 1000000 65536',
    'lxc.net.0.type = empty',
    `lxc.log.file = ${ref.logPath}`,
    'lxc.log.level = WARN',
    'lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed',
    'lxc.tty.max = 0',
    'lxc.pty.max = 1024',
    'lxc.autodev = 1',
    'lxc.apparmor.profile = unconfined',
    // busybox init reboots on SIGTERM: liblxc then starts a new init.
    'lxc.signal.halt = SIGTERM',
  ];
  writeFileSync(ref.configPath, lines.join('\n') + '\n');
  refs.push(ref);
  return ref;
}

t.teardown(async () => {
  for (const ref of refs) {
    await stop(ref, { force: true, timeoutSec: 10 }).catch(async () => {
      const s = await state(ref).catch(() => ({ pid: -1 }));
      if (s.pid > 0) process.kill(s.pid, 'SIGKILL');
    });
  }
  rmSync(work, { recursive: true, force: true });
});

t.test('concurrent stops of rebooting inits leave the pool free', async (t) => {
  buildRootfs(rootfs);
  const list = Array.from({ length: COUNT }, (_, i) => container(i));
  for (const ref of list) await start(ref);
  const probe = list[0];

  let done = false;
  const stops = Promise.allSettled(list.slice(1).map((ref) => stop(ref, { force: false, timeoutSec: 60 })));
  void stops.finally(() => (done = true));
  const lat: number[] = [];
  while (!done) {
    const t0 = performance.now();
    // One native call (pool) and one file read (pool).
    await state(probe);
    await readFile('/proc/self/stat');
    lat.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  const results = await stops;
  results.forEach((r, i) => t.equal(r.status, 'fulfilled', `stop ${list[i + 1].name}: ${r.status === 'rejected' ? String(r.reason) : 'ok'}`));
  const max = Math.round(Math.max(...lat));
  t.comment(`during ${COUNT - 1} stops: ${lat.length} probes, max ${max} ms`);
  t.ok(max < BOUND_MS, `a state call and a file read stayed under ${BOUND_MS} ms (max ${max} ms)`);
  for (const ref of list.slice(1)) t.equal((await state(ref)).state, 'STOPPED', `${ref.name} ended STOPPED, not rebooted`);
});
