/**
 * lxc-to-incus: a busybox container made by `lxc-create -t busybox` in a
 * temporary lxcpath (unprivileged idmap, a bind mount, a memory limit, no
 * network) is imported: dry-run changes nothing, an unsupported key is named
 * and leaves it alone, the real import starts under incusd with the same
 * rootfs content, the mount as a disk device and the limit as limits.memory.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instance } from '../../lib/api/instance';
import { type CliResult, ROOT, runNodeScript, type TestDaemon, withDaemon } from './lib/daemon';

const TOOL = join(ROOT, 'bin', 'lxc-to-incus');

function tool(d: TestDaemon, args: string[]): Promise<CliResult> {
  return runNodeScript(TOOL, args, { env: { INCUS_DIR: d.dir, INCUS_SOCKET: '' } });
}

t.test('import a busybox LXC container', async (t) => {
  const lxcpath = mkdtempSync(join(tmpdir(), 'lxcpath-'));
  const share = mkdtempSync(join(tmpdir(), 'lxc-share-'));
  t.teardown(() => {
    spawnSync('lxc-destroy', ['-P', lxcpath, '-n', 'bb1'], { stdio: 'ignore' });
    rmSync(lxcpath, { recursive: true, force: true });
    rmSync(share, { recursive: true, force: true });
  });
  writeFileSync(join(share, 'hello'), 'from the host\n', { mode: 0o644 });
  // Readable by the unprivileged container's (shifted) root, which is "other" here.
  chmodSync(share, 0o755);
  const conf = join(lxcpath, 'create.conf');
  writeFileSync(conf, 'lxc.net.0.type = empty\nlxc.idmap = u 0 1000000 65536\nlxc.idmap = g 0 1000000 65536\n');
  const cr = spawnSync('lxc-create', ['-P', lxcpath, '-n', 'bb1', '-t', 'busybox', '-f', conf], { encoding: 'utf8' });
  t.equal(cr.status, 0, cr.stderr);
  const rootfs = join(lxcpath, 'bb1', 'rootfs');
  writeFileSync(join(rootfs, 'marker'), 'lxc rootfs\n');
  spawnSync('chown', ['1000000:1000000', join(rootfs, 'marker')]);
  const cfg = join(lxcpath, 'bb1', 'config');
  appendFileSync(cfg, `lxc.mount.entry = ${share} mnt/share none bind,create=dir 0 0\nlxc.cgroup.memory.limit_in_bytes = 134217728\n`);
  const original = readFileSync(cfg, 'utf8');

  const d = await withDaemon(t);

  // An unsupported key: named, nothing changes.
  writeFileSync(cfg, `${original}lxc.hook.pre-start = /bin/true\n`);
  const bad = await tool(d, ['--lxcpath', lxcpath, '--containers', 'bb1']);
  t.equal(bad.code, 1);
  t.match(bad.stdout, "Found unsupported config key 'lxc.hook.pre-start'");
  t.same((await d.client.getInstances(0)) as string[], []);
  t.ok(existsSync(join(rootfs, 'marker')));
  writeFileSync(cfg, original);

  const dry = await tool(d, ['--lxcpath', lxcpath, '--containers', 'bb1', '--dry-run']);
  t.equal(dry.code, 0, dry.stdout + dry.stderr);
  t.match(dry.stdout, 'limits.memory: 128MiB');
  t.same((await d.client.getInstances(0)) as string[], [], 'dry run creates nothing');
  t.same((await d.client.getImages(0)) as string[], [(await d.client.getImageAlias('busybox')).target], 'no image left either');

  const imp = await tool(d, ['--lxcpath', lxcpath, '--containers', 'bb1']);
  t.equal(imp.code, 0, imp.stdout + imp.stderr);
  const inst = (await d.client.getInstance('bb1')) as Instance;
  t.equal(inst.config['limits.memory'], '128MiB');
  t.equal(inst.config['security.privileged'], 'false');
  t.same(Object.values(inst.devices).filter((dev) => dev.source === share), [{ type: 'disk', source: share, path: '/mnt/share' }], 'the bind mount is a disk device');
  t.same(inst.devices.eth0, { type: 'none' });
  t.equal(((await d.client.getImages(0)) as string[]).length, 1, 'temporary image removed');

  const st = await d.cli(['start', 'bb1']);
  t.equal(st.code, 0, st.stderr);
  const marker = d.attach('bb1', ['cat', '/marker']);
  t.equal(marker.out, 'lxc rootfs\n');
  const owner = d.attach('bb1', ['stat', '-c', '%u:%g', '/marker', '/bin/busybox']);
  t.equal(owner.out, '0:0\n0:0\n', 'ids shifted back to container root');
  const hello = d.attach('bb1', ['cat', '/mnt/share/hello']);
  t.equal(hello.out, 'from the host\n', hello.err);
  t.ok(existsSync(join(rootfs, 'marker')), 'source kept without --delete');

  const again = await tool(d, ['--lxcpath', lxcpath, '--all']);
  t.equal(again.code, 1);
  t.match(again.stdout, 'Container already exists');
});

t.test('privileged containers with --all --storage, then --delete and --move-rootfs', async (t) => {
  const lxcpath = mkdtempSync(join(tmpdir(), 'lxcpath-'));
  t.teardown(() => {
    for (const n of ['p1', 'p2']) spawnSync('lxc-destroy', ['-P', lxcpath, '-n', n], { stdio: 'ignore' });
    rmSync(lxcpath, { recursive: true, force: true });
  });
  const conf = join(lxcpath, 'create.conf');
  writeFileSync(conf, 'lxc.net.0.type = empty\n');
  for (const n of ['p1', 'p2']) {
    const cr = spawnSync('lxc-create', ['-P', lxcpath, '-n', n, '-t', 'busybox', '-f', conf], { encoding: 'utf8' });
    t.equal(cr.status, 0, cr.stderr);
  }
  const d = await withDaemon(t);

  const both = await tool(d, ['--lxcpath', lxcpath, '--all', '--containers', 'p1']);
  t.not(both.code, 0, '--all with --containers is refused');
  t.match(both.stderr, 'You must either pass container names or --all');

  const p1 = await tool(d, ['--lxcpath', lxcpath, '--containers', 'p1', '--storage', 'default', '--delete']);
  t.equal(p1.code, 0, p1.stdout + p1.stderr);
  t.notOk(existsSync(join(lxcpath, 'p1')), '--delete destroyed the LXC container');
  const p2 = await tool(d, ['--lxcpath', lxcpath, '--containers', 'p2', '--move-rootfs']);
  t.equal(p2.code, 0, p2.stdout + p2.stderr);
  t.notOk(existsSync(join(lxcpath, 'p2', 'rootfs')), '--move-rootfs removed the rootfs');
  t.ok(existsSync(join(lxcpath, 'p2', 'config')), 'and kept the config');

  const i1 = (await d.client.getInstance('p1')) as Instance;
  t.equal(i1.config['security.privileged'], 'true');
  t.same(i1.devices.root, { type: 'disk', path: '/', pool: 'default' });
  for (const n of ['p1', 'p2']) {
    const st = await d.cli(['start', n]);
    t.equal(st.code, 0, st.stderr);
    t.equal(d.attach(n, ['busybox', 'true']).code, 0, `${n} runs`);
  }
});
