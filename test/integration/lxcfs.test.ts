/** With lxcfs running, free/nproc inside a container reflect its limits. */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';

const haveLxcfs = spawnSync('lxcfs', ['--version']).status === 0 && existsSync('/dev/fuse');

async function mounted(dir: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

t.test('lxcfs views', { skip: haveLxcfs ? false : 'lxcfs or /dev/fuse is missing' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lxcfs-'));
  const lxcfs = spawn('lxcfs', ['-f', '-l', '--enable-cfs', dir], { stdio: 'ignore' });
  t.teardown(async () => {
    lxcfs.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    if (lxcfs.exitCode === null) lxcfs.kill('SIGKILL');
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  t.ok(await mounted(dir), 'lxcfs mounted');
  const prev = process.env.INCUS_LXCFS_DIR;
  process.env.INCUS_LXCFS_DIR = dir;
  t.teardown(() => {
    if (prev === undefined) delete process.env.INCUS_LXCFS_DIR;
    else process.env.INCUS_LXCFS_DIR = prev;
  });
  const d = await withDaemon(t);
  const l = await d.cli(['launch', 'busybox', 'f1', '-c', 'limits.memory=128MiB', '-c', 'limits.cpu=1']);
  t.equal(l.code, 0, l.stderr);
  const mem = lxcAttach(d.dir, 'f1', ['cat', '/proc/meminfo']).out;
  t.match(mem, /^MemTotal:\s+131072 kB$/m, 'MemTotal shows the limit');
  const cpus = lxcAttach(d.dir, 'f1', ['grep', '-c', '^processor', '/proc/cpuinfo']).out.trim();
  t.equal(cpus, '1', 'one CPU visible');
  t.equal((await d.cli(['delete', '-f', 'f1'])).code, 0);
});
