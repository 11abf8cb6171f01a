/**
 * The native core against real unprivileged busybox containers: the addon
 * (state, batchState, cgroups, freezer, pidfds, shiftTree), incusd-helper
 * (forkstart, idmap-probe) and the lib/native wrappers. Runs as root.
 */
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  NativeError,
  batchState,
  define,
  freeze,
  getCgroupItem,
  lxcVersion,
  probeIdmappedMounts,
  setCgroupItem,
  shiftTree,
  start,
  state,
  stop,
  unfreeze,
  waitPidExit,
  type LxcRef,
} from '../../lib/native/lxc';

const HOST_BASE = 1000000;

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root');
  process.exit(0);
}

const work = mkdtempSync('/tmp/incus-native-');
chmodSync(work, 0o755);
const lxcpath = join(work, 'lxc');
mkdirSync(lxcpath, { mode: 0o755 });
chmodSync(lxcpath, 0o755);
const rootfs = join(work, 'rootfs');
const prefix = `nt${randomBytes(3).toString('hex')}`;
const created: LxcRef[] = [];

/** A minimal busybox root filesystem owned by root (idmapped at start). */
function buildRootfs(dir: string): void {
  mkdirSync(dir, { mode: 0o755 });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'dev', 'proc', 'sys', 'tmp', 'run', 'root', 'var']) {
    mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n');
  for (const a of applets) {
    if (a === '' || a === 'bin/busybox') continue;
    const target = join(dir, a);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    if (!existsSync(target)) symlinkSync('/bin/busybox', target);
  }
  writeFileSync(join(dir, 'etc/inittab'), '::sysinit:/bin/true\n::shutdown:/bin/true\n');
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
}

/** Writes an unprivileged idmapped config for `name`; extra lines are appended. */
function container(suffix: string, extra = '', root = rootfs): LxcRef {
  const name = `${prefix}-${suffix}`;
  const dir = join(lxcpath, name);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const ref: LxcRef = { name, lxcpath, configPath: join(dir, 'lxc.conf'), logPath: join(dir, 'lxc.log') };
  writeFileSync(
    ref.configPath,
    [
      `lxc.uts.name = ${name}`,
      `lxc.rootfs.path = dir:${root}`,
      'lxc.rootfs.options = idmap=container',
      `lxc.idmap = u 0 ${HOST_BASE} 65536`,
      `lxc.idmap = g 0 ${HOST_BASE} 65536`,
      'lxc.net.0.type = empty',
      `lxc.log.file = ${ref.logPath}`,
      'lxc.log.level = INFO',
      'lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed',
      'lxc.tty.max = 0',
      'lxc.pty.max = 1024',
      'lxc.autodev = 1',
      'lxc.apparmor.profile = unconfined',
      extra,
      '',
    ].join('\n'),
  );
  created.push(ref);
  return ref;
}

function hostUid(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * The fd count once it is back to `expected`, or after 2 s. A stop returns
 * when liblxc's monitor closes its command socket, a moment before the
 * monitor exits; the pidfd watching the monitor closes at that exit.
 */
async function fdCountSettled(expected: number): Promise<number> {
  for (let i = 0; i < 200 && fdCount() > expected; i++) await new Promise((r) => setTimeout(r, 10));
  return fdCount();
}

/** lxc.monitor.<name> cgroups left behind in any v1 hierarchy. */
function strayMonitorCgroups(name: string): string[] {
  const base = '/sys/fs/cgroup';
  return readdirSync(base)
    .map((h) => join(base, h, `lxc.monitor.${name}`))
    .filter((p) => existsSync(p));
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
}

function subidCovers(file: string): boolean {
  return readFileSync(file, 'utf8')
    .split('\n')
    .some((l) => {
      const [user, s, n] = l.split(':');
      return user === 'root' && Number(s) <= HOST_BASE && Number(s) + Number(n) >= HOST_BASE + 65536;
    });
}

t.teardown(async () => {
  for (const ref of created) {
    try {
      await stop(ref, { force: true, timeoutSec: 10 });
    } catch {
      // The wrapper itself failed: end init by PID so nothing is left running.
      try {
        const s = await state(ref);
        if (s.pid > 0) process.kill(s.pid, 'SIGKILL');
      } catch {
        // nothing left to end
      }
    }
  }
  // A failed start can leave an empty lxc.monitor.<name> cgroup behind (liblxc
  // cannot remove the one its aborting monitor still sits in).
  for (const h of readdirSync('/sys/fs/cgroup')) {
    let entries: string[] = [];
    try {
      entries = readdirSync(join('/sys/fs/cgroup', h));
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.startsWith(`lxc.monitor.${prefix}-`) || e.startsWith(`lxc.payload.${prefix}-`)) {
        try {
          rmdirSync(join('/sys/fs/cgroup', h, e));
        } catch {
          // still in use: leave it
        }
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
});

t.ok(subidCovers('/etc/subuid') && subidCovers('/etc/subgid'), 'root owns a subuid/subgid range covering 1000000-1065535 (PLATFORM.md §1)');
buildRootfs(rootfs);
chmodSync(rootfs, 0o755);

t.test('lxcVersion', async (t) => {
  t.match(lxcVersion(), /^\d+\.\d+\.\d+/);
});

t.test('define parses a config and names a bad key', async (t) => {
  const good = container('define');
  await define(good);
  t.pass('good config parses');

  const bad = container('badkey', 'lxc.no.such.key = 1');
  const err = await define(bad).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof NativeError, 'rejects with a NativeError');
  const e = err as NativeError;
  t.equal(e.code, 'EINVAL');
  t.equal(e.op, 'define');
  t.equal(e.instance, bad.name);
  t.match(e.message, /lxc\.no\.such\.key/, 'message names the key');

  const missing = { ...good, configPath: join(work, 'nope.conf') };
  await t.rejects(define(missing), { code: 'ENOENT', op: 'define', path: missing.configPath });
});

/** Field 22 of /proc/PID/stat: when the process started, in ticks after boot. */
function startTicksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

t.test('start, state, batchState, cgroups, freezer, clean stop', async (t) => {
  const ref = container('main');
  const fdsBefore = fdCount();
  let t0 = performance.now();
  const pid = await start(ref);
  t.comment(`start: ${elapsed(t0)} ms`);
  t.ok(pid > 0, 'init pid');
  t.equal(hostUid(pid), HOST_BASE, 'init runs as host uid 1000000');

  t.same(await state(ref), { state: 'RUNNING', pid });

  const never = `${prefix}-never`;
  t0 = performance.now();
  const rows = await batchState(lxcpath, [ref.name, never]);
  t.comment(`batchState (1 running + 1 unknown): ${elapsed(t0)} ms`);
  t.equal(rows.length, 2);
  t.equal(rows[0].name, ref.name);
  t.equal(rows[0].state, 'RUNNING');
  t.equal(rows[0].pid, pid);
  t.ok(rows[0].memoryUsage > 0, `memoryUsage ${rows[0].memoryUsage}`);
  t.ok(rows[0].memoryPeak >= rows[0].memoryUsage, 'memoryPeak >= memoryUsage');
  t.ok(rows[0].cpuUsage > 0, `cpuUsage ${rows[0].cpuUsage} ns`);
  t.ok(rows[0].processes >= 1, 'at least init in pids.current');
  t.equal(rows[0].startTicks, startTicksOf(pid), 'startTicks is field 22 of /proc/PID/stat');
  t.same(rows[1], {
    name: never,
    state: 'STOPPED',
    pid: -1,
    startTicks: -1,
    memoryUsage: -1,
    memoryPeak: -1,
    swapUsage: -1,
    swapPeak: -1,
    cpuUsage: -1,
    processes: -1,
  });

  // A scrape's batch: the files asked for besides the usage figures (a state call asks for both), and statfs of a path per container.
  const scrape = await batchState(lxcpath, [ref.name, never], ['pids.current', 'memory.no_such_file', 'proc/net/dev'], [rootfs, rootfs]);
  t.ok(scrape[0].memoryUsage > 0 && scrape[0].processes >= 1, 'usage figures read as well');
  t.same(Object.keys(scrape[0].files ?? {}).sort(), ['pids.current', 'proc/net/dev'], 'the files that exist');
  t.match(scrape[0].files?.['proc/net/dev'], /^\s*lo:/m, 'net/dev of init\'s namespace');
  const fs = statfsSync(rootfs);
  t.same(scrape[0].statfs, { type: fs.type, bsize: fs.bsize, blocks: fs.blocks, bfree: scrape[0].statfs?.bfree, bavail: scrape[0].statfs?.bavail, dev: statSync(rootfs).dev }, 'statfs and st_dev of the path');
  t.equal(scrape[1].statfs, undefined, 'no statfs for a container not running');
  await t.rejects(batchState(lxcpath, [ref.name], undefined, []), /one path per name/);

  await setCgroupItem(ref, 'memory.limit_in_bytes', '256M');
  t.equal(await getCgroupItem(ref, 'memory.limit_in_bytes'), String(256 * 1024 * 1024));
  await t.rejects(getCgroupItem(ref, 'memory.no_such_file'), { code: 'ENOENT', op: 'getCgroupItem', instance: ref.name });
  await t.rejects(setCgroupItem(ref, 'memory.limit_in_bytes', 'lots'), { code: 'EINVAL', op: 'setCgroupItem' });

  t0 = performance.now();
  await freeze(ref);
  const freezeMs = elapsed(t0);
  t.equal((await state(ref)).state, 'FROZEN');
  t.equal((await batchState(lxcpath, [ref.name]))[0].state, 'FROZEN', 'batchState sees FROZEN');
  t0 = performance.now();
  await unfreeze(ref);
  const thawMs = elapsed(t0);
  t.comment(`freeze: ${freezeMs} ms, unfreeze: ${thawMs} ms`);
  t.ok(freezeMs < 500, 'freeze takes well under liblxc\'s ~1 s');
  t.same(await state(ref), { state: 'RUNNING', pid });

  // liblxc's default halt signal (SIGPWR) is one busybox init acts on.
  const timeoutSec = 10;
  t0 = performance.now();
  await stop(ref, { force: false, timeoutSec });
  const stopMs = elapsed(t0);
  t.comment(`clean stop: ${stopMs} ms`);
  t.ok(stopMs < timeoutSec * 1000, 'clean stop ends before the timeout');
  t.same(await state(ref), { state: 'STOPPED', pid: -1 });
  t.match(readFileSync(ref.logPath, 'utf8'), /ended on signal Interrupt/, 'init ended through reboot(2), not SIGKILL');
  t.same(strayMonitorCgroups(ref.name), [], 'no lxc.monitor cgroup left behind');
  await stop(ref, { force: false, timeoutSec }); // already stopped: a no-op
  // batchState remembers inits it saw running; a stop and a new start must show through.
  t.equal((await batchState(lxcpath, [ref.name]))[0].state, 'STOPPED', 'batchState sees the stop');
  const pid2 = await start(ref);
  const again = (await batchState(lxcpath, [ref.name]))[0];
  t.equal(again.pid, pid2, 'batchState reports the new init');
  t.equal(again.startTicks, startTicksOf(pid2));
  await stop(ref, { force: true, timeoutSec });
  t.equal((await batchState(lxcpath, [ref.name]))[0].state, 'STOPPED', 'and the kill');
  t.equal(await fdCountSettled(fdsBefore), fdsBefore, 'no fd leaked');
});

t.test('force stop, also of a frozen container', async (t) => {
  const ref = container('force');
  await start(ref);
  let t0 = performance.now();
  await stop(ref, { force: true, timeoutSec: 10 });
  t.comment(`force stop: ${elapsed(t0)} ms`);
  t.equal((await state(ref)).state, 'STOPPED');

  await start(ref);
  await freeze(ref);
  t0 = performance.now();
  await stop(ref, { force: true, timeoutSec: 10 });
  t.comment(`force stop of a frozen container: ${elapsed(t0)} ms`);
  t.equal((await state(ref)).state, 'STOPPED');
  await t.rejects(freeze(ref), { code: 'ESRCH', op: 'freeze', instance: ref.name });
  await t.rejects(getCgroupItem(ref, 'memory.usage_in_bytes'), { code: 'ESRCH', op: 'getCgroupItem' });
});

t.test('stop falls back to kill when init ignores the halt signal', async (t) => {
  // busybox init has no handler for SIGWINCH, so the kernel drops it.
  const ref = container('deaf', 'lxc.signal.halt = SIGWINCH');
  await start(ref);
  const t0 = performance.now();
  await stop(ref, { force: false, timeoutSec: 1 });
  const ms = elapsed(t0);
  t.comment(`stop with a 1 s timeout on a deaf init: ${ms} ms`);
  t.ok(ms >= 1000 && ms < 5000, 'waited the timeout, then killed');
  t.equal((await state(ref)).state, 'STOPPED');
  t.match(readFileSync(ref.logPath, 'utf8'), /ended on signal Killed/);
});

t.test('a failed start rejects with op, instance and the log tail', async (t) => {
  const ref = container('broken', '', join(work, 'no-such-rootfs'));
  const err = await start(ref).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof NativeError, 'rejects with a NativeError');
  const e = err as NativeError;
  t.equal(e.op, 'start');
  t.equal(e.instance, ref.name);
  t.match(e.code, /^E[A-Z0-9]+$/);
  const [first, ...tail] = e.message.split('\n');
  t.match(first, new RegExp(`^start ${ref.name}: `));
  t.ok(tail.length > 0 && tail.length <= 10, `${tail.length} log lines follow`);
  const log = readFileSync(ref.logPath, 'utf8').split('\n');
  t.ok(tail.every((l) => log.includes(l)), 'they are lines of the container log');
  t.ok(tail.some((l) => / ERROR /.test(l)), 'the tail holds liblxc\'s error');
  t.equal((await state(ref)).state, 'STOPPED');
});

t.test('waitPidExit', async (t) => {
  const before = fdCount();
  const child = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid as number;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let done = false;
  const waiting = waitPidExit(pid).then(() => {
    done = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(done, 'still waiting while the process runs');
  process.kill(pid, 'SIGKILL');
  await waiting;
  t.ok(done, 'resolved after the process exited');
  await exited;
  await waitPidExit(pid);
  t.pass('resolves at once for a process that is gone');
  t.equal(fdCount(), before, 'no pidfd left open');
});

t.test('probeIdmappedMounts', async (t) => {
  const dir = mkdtempSync(join(work, 'probe-'));
  t.equal(await probeIdmappedMounts(dir), true, 'idmapped mounts work on /tmp');
  await t.rejects(probeIdmappedMounts(join(work, 'absent')), { code: 'ENOENT', op: 'probeIdmappedMounts' });
});

t.test('shiftTree', async (t) => {
  const dir = mkdtempSync(join(work, 'shift-'));
  const outside = join(work, 'outside-file');
  writeFileSync(outside, 'x');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub/file'), 'x');
  writeFileSync(join(dir, 'suid'), 'x');
  chmodSync(join(dir, 'suid'), 0o6755);
  symlinkSync(outside, join(dir, 'link'));
  symlinkSync('/nonexistent', join(dir, 'dangling'));

  await shiftTree(dir, HOST_BASE, HOST_BASE + 5);
  for (const p of [dir, join(dir, 'sub'), join(dir, 'sub/file'), join(dir, 'suid')]) {
    const st = statSync(p);
    t.same([st.uid, st.gid], [HOST_BASE, HOST_BASE + 5], `${p} shifted`);
  }
  for (const p of [join(dir, 'link'), join(dir, 'dangling')]) {
    const st = lstatSync(p);
    t.same([st.uid, st.gid], [HOST_BASE, HOST_BASE + 5], `${p} (the link itself) shifted`);
  }
  t.equal(statSync(join(dir, 'suid')).mode & 0o7777, 0o6755, 'setuid/setgid bits kept');
  t.same([statSync(outside).uid, statSync(outside).gid], [0, 0], 'symlink target outside the tree untouched');
  await t.rejects(shiftTree(join(work, 'absent'), 1, 1), { code: 'ENOENT', op: 'shiftTree' });
});

t.test('10 containers start in parallel without blocking the event loop', async (t) => {
  const refs = Array.from({ length: 10 }, (_, i) => container(`par${i}`));
  const fdsBefore = fdCount();
  let last = performance.now();
  let maxGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 5);
  let t0 = performance.now();
  try {
    const pids = await Promise.all(refs.map((r) => start(r)));
    t.comment(`10 parallel starts: ${elapsed(t0)} ms`);
    t.ok(pids.every((p) => p > 0), 'every container has an init pid');
    t.equal(new Set(pids).size, 10, 'ten distinct inits');

    const names = refs.map((r) => r.name);
    t0 = performance.now();
    const rows = await batchState(lxcpath, names);
    t.comment(`batchState of 10 running: ${elapsed(t0)} ms`);
    t.ok(rows.every((r) => r.state === 'RUNNING' && r.memoryUsage > 0), 'all RUNNING with usage');
    t0 = performance.now();
    for (let i = 0; i < 20; i++) await batchState(lxcpath, names);
    t.comment(`batchState of 10 running, mean of 20: ${elapsed(t0) / 20} ms`);

    t0 = performance.now();
    await Promise.all(refs.map((r) => stop(r, { force: true, timeoutSec: 10 })));
    t.comment(`10 parallel force stops: ${elapsed(t0)} ms`);
  } finally {
    clearInterval(tick);
  }
  t.comment(`largest gap between 5 ms ticks: ${Math.round(maxGap)} ms`);
  t.ok(maxGap < 200, 'the event loop kept ticking');
  const rows = await batchState(lxcpath, refs.map((r) => r.name));
  t.ok(rows.every((r) => r.state === 'STOPPED'), 'all stopped');
  t.equal(await fdCountSettled(fdsBefore), fdsBefore, 'no fd leaked by forkstart, pidfds or the command socket');
});
