/**
 * Debian's stock LXD 5.0.2 client (package lxd-client) against our socket:
 * it must list, launch, stop and delete through the /1.0/instances API.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';

const probe = spawnSync('lxc', ['version'], { encoding: 'utf8', env: { ...process.env, LXD_DIR: '/nonexistent' } });
const haveLxd = probe.status !== null && /Client version: 5\./.test(probe.stdout + probe.stderr);

t.test('LXD 5.0 client: list, launch, stop --force, delete', { skip: haveLxd ? false : 'the lxd-client package is not installed' }, async (t) => {
  const d = await withDaemon(t);
  const lxdDir = mkdtempSync(join(tmpdir(), 'lxd-dir-'));
  const conf = mkdtempSync(join(tmpdir(), 'lxd-conf-'));
  t.teardown(() => {
    rmSync(lxdDir, { recursive: true, force: true });
    rmSync(conf, { recursive: true, force: true });
  });
  symlinkSync(d.socket, join(lxdDir, 'unix.socket'));
  const lxc = (...args: string[]) => {
    const r = spawnSync('lxc', args, { encoding: 'utf8', env: { ...process.env, LXD_DIR: lxdDir, LXD_CONF: conf }, timeout: 120_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  const list0 = lxc('list');
  t.equal(list0.code, 0, list0.out);
  const launch = lxc('launch', 'busybox', 'c1');
  t.equal(launch.code, 0, launch.out);
  const list1 = lxc('list', '--format', 'csv', '-c', 'ns');
  t.equal(list1.code, 0, list1.out);
  t.match(list1.out, /c1,RUNNING/);
  const stop = lxc('stop', '--force', 'c1');
  t.equal(stop.code, 0, stop.out);
  t.equal((await d.client.getInstanceState('c1')).status, 'Stopped');
  const del = lxc('delete', 'c1');
  t.equal(del.code, 0, del.out);
  t.same(await d.client.getInstances(0), [], 'gone');
});
