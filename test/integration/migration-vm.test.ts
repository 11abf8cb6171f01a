/**
 * A stopped VM copied between two daemons on 127.0.0.1 HTTPS: its config
 * tree goes by rsync and its raw disk streams over the fs websocket with
 * holes kept (a snapshot's disk first), in pull, push and relay mode; the
 * copy boots on the target to the test image's console marker while the
 * source stays stopped and whole. One boot only: TCG is slow. The root disk
 * is 64 MiB: the wire carries every byte of it, holes included, as
 * Incus's does (the default 10 GiB took about 5 minutes a copy here).
 */
import t from 'tap';
import { statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { clientFor, listen, ok } from './lib/two-servers';
import { buildTestVm, qemuPids, waitConsole, waitGone } from './lib/vm';

/** The root disk of `name` (or of its snapshot) on the daemon's default pool. */
function rootImg(d: TestDaemon, name: string, snap?: string): string {
  const pool = join(d.dir, 'storage-pools', 'default');
  return snap === undefined ? join(pool, 'virtual-machines', name, 'root.img') : join(pool, 'virtual-machines-snapshots', name, snap, 'root.img');
}

/** Apparent size and bytes allocated on disk. */
function sizes(path: string): { size: number; allocated: number } {
  const st = statSync(path);
  return { size: st.size, allocated: st.blocks * 512 };
}

t.test('a stopped VM copies to another server (pull, push, relay) and boots there; the source is untouched', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  t.teardown(() => {
    for (const pid of [...qemuPids(a), ...qemuPids(b)]) process.kill(pid, 'SIGKILL');
  });
  await listen(a);
  const bAddr = (await listen(b)).address;
  const incus = await clientFor(t, a, b, bAddr);
  const built = buildTestVm(a);
  t.equal(built.status, 0, `image builder: ${built.stderr.slice(-500)}`);

  // Created, never started: the snapshot and a user key are what the copy must carry besides the disk.
  const init = ['init', 'testvm', 'v1', '--vm', '-d', 'root,size=64MiB', '-c', 'security.secureboot=false', '-c', 'limits.cpu=1', '-c', 'limits.memory=512MiB', '-c', 'user.marker=from-a'];
  ok(t, await incus(init), 'init v1');
  ok(t, await incus(['snapshot', 'create', 'v1', 's0']), 'snapshot s0');
  const src = sizes(rootImg(a, 'v1'));
  const srcSnap = sizes(rootImg(a, 'v1', 's0'));

  t.equal(src.size, 64 * 1024 * 1024, 'a 64 MiB root disk');
  for (const [mode, name] of [['pull', 'v1'], ['push', 'v2'], ['relay', 'v3']] as const) {
    const started = Date.now();
    ok(t, await incus(['copy', 'v1', `b:${name}`, '--mode', mode]), `copy --mode ${mode}`);
    t.comment(`${mode}: ${((Date.now() - started) / 1000).toFixed(1)} s for a ${src.size}-byte disk (${src.allocated} allocated) and one snapshot`);
    const ls = await incus(['list', `b:${name}`, '-f', 'csv', '-c', 'nst']);
    t.match(ls.stdout, new RegExp(`^${name},STOPPED,VIRTUAL-MACHINE$`, 'm'), `${mode}: a stopped virtual-machine on b (${ls.stdout.trim()}${ls.stderr})`);
    const inst = (await b.client.getInstance(name)) as { type: string; config: Record<string, string> };
    t.equal(inst.type, 'virtual-machine', `${mode}: type virtual-machine`);
    t.equal(inst.config['user.marker'], 'from-a', `${mode}: the user key arrived`);
    t.equal(inst.config['limits.memory'], '512MiB', `${mode}: limits arrived`);
    t.equal((await incus(['snapshot', 'list', `b:${name}`, '-f', 'csv', '-c', 'n'])).stdout, 's0\n', `${mode}: snapshot listed on b`);
    const dst = sizes(rootImg(b, name));
    t.equal(dst.size, src.size, `${mode}: the disk has the source's size (${dst.size})`);
    t.ok(dst.allocated <= src.allocated + 8 * 1024 * 1024, `${mode}: holes kept (${dst.allocated} allocated, source ${src.allocated})`);
    t.equal(sizes(rootImg(b, name, 's0')).size, srcSnap.size, `${mode}: the snapshot's disk has the source snapshot's size`);
    for (const snap of [undefined, 's0']) {
      const same = spawnSync('cmp', [rootImg(a, 'v1', snap), rootImg(b, name, snap)], { encoding: 'utf8' });
      t.equal(same.status, 0, `${mode}: ${snap ?? 'the'} disk is byte for byte the source's ${same.stdout}${same.stderr}`);
    }
  }

  // One boot, on the target: the disk content is whole if the guest reaches its marker.
  const booting = Date.now();
  ok(t, await incus(['start', 'b:v1']), 'start b:v1');
  t.ok(await waitConsole(b, 'v1', /INCUS-TESTVM-READY cpus=1 /), `the copy boots to its marker on b (${((Date.now() - booting) / 1000).toFixed(1)} s)`);
  ok(t, await incus(['stop', '-f', 'b:v1']), 'stop -f b:v1');
  t.same(await waitGone(b, 'qemu-system'), [], 'no QEMU left on b');

  t.match((await incus(['list', 'v1', '-f', 'csv', '-c', 'ns'])).stdout, /^v1,STOPPED$/m, 'the source is still there, stopped');
  t.equal((await incus(['snapshot', 'list', 'v1', '-f', 'csv', '-c', 'n'])).stdout, 's0\n', 'the source keeps its snapshot');
  t.same(sizes(rootImg(a, 'v1')), src, 'the source disk is unchanged in size');
  t.same(qemuPids(a), [], 'no QEMU ever ran on a');
});
