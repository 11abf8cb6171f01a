/**
 * No instance, snapshot, custom volume or image content is reachable by an
 * unprivileged host user, on a dir pool and on a btrfs pool (loop file), for
 * running and stopped containers. An idmapped rootfs stores container uid 0
 * as host uid 0, so a setuid-root binary made inside a container would make
 * any local user root if its host path could be reached: the test makes one
 * and tries it. Starts (unprivileged, privileged, with a custom volume and a
 * host path disk), exec, file push/pull, snapshots, copy and publish must all
 * still work, and a daemon restart must close up the modes of an older
 * installation.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { type Probe, probeAsNobody } from './lib/unprivileged-probe';
import { globalDbPath } from '../../lib/server/db/location';

const haveBtrfs = spawnSync('mkfs.btrfs', ['--version']).status === 0 && readFileSync('/proc/filesystems', 'utf8').includes('btrfs');

const FP = /^[0-9a-f]{64}$/;

/** The probes covering one container's volume, host link and log dir. */
function containerProbes(d: TestDaemon, poolPath: string, name: string, started: boolean): Probe[] {
  const vol = join(poolPath, 'containers', name);
  const busybox = join(vol, 'rootfs', 'bin', 'busybox');
  const probes: Probe[] = [
    { path: vol, op: 'readdir' },
    { path: join(vol, 'rootfs'), op: 'readdir' },
    { path: join(vol, 'metadata.yaml'), op: 'stat' },
    { path: busybox, op: 'stat' },
    { path: busybox, op: 'read' },
    { path: busybox, op: 'exec' },
    { path: join(d.dir, 'containers', name, 'rootfs', 'bin', 'busybox'), op: 'stat' },
  ];
  if (started) probes.push({ path: join(d.dir, 'logs', name, 'lxc.conf'), op: 'stat' });
  return probes;
}

/** Probes for c1's snapshot, the custom volume and its snapshot, the image volume and the image files. */
function dataProbes(d: TestDaemon, poolPath: string): Probe[] {
  const snap = join(poolPath, 'containers-snapshots', 'c1', 'snap0');
  const probes: Probe[] = [
    { path: join(poolPath, 'containers-snapshots', 'c1'), op: 'readdir' },
    { path: snap, op: 'readdir' },
    { path: join(snap, 'rootfs', 'bin', 'busybox'), op: 'stat' },
    { path: join(snap, 'rootfs', 'bin', 'busybox'), op: 'exec' },
    { path: join(poolPath, 'custom', 'default_vol'), op: 'readdir' },
    { path: join(poolPath, 'custom', 'default_vol', 'secret'), op: 'stat' },
    { path: join(poolPath, 'custom', 'default_vol', 'secret'), op: 'read' },
    { path: join(poolPath, 'custom-snapshots', 'default_vol'), op: 'readdir' },
    { path: join(poolPath, 'custom-snapshots', 'default_vol', 'vs0', 'secret'), op: 'stat' },
  ];
  for (const fp of readdirSync(join(poolPath, 'images')).filter((f) => FP.test(f))) {
    probes.push({ path: join(poolPath, 'images', fp), op: 'readdir' });
    probes.push({ path: join(poolPath, 'images', fp, 'rootfs', 'bin', 'busybox'), op: 'stat' });
    probes.push({ path: join(poolPath, 'images', fp, 'rootfs', 'bin', 'busybox'), op: 'exec' });
  }
  for (const fp of readdirSync(join(d.dir, 'images')).filter((f) => FP.test(f))) {
    probes.push({ path: join(d.dir, 'images', fp), op: 'stat' });
    probes.push({ path: join(d.dir, 'images', fp), op: 'read' });
  }
  return probes;
}

/** The setuid-root copy of busybox made inside c1: executing it through its host path is the attack. */
function attackProbes(poolPath: string): Probe[] {
  const suid = join(poolPath, 'containers', 'c1', 'rootfs', 'suid');
  return [
    { path: suid, op: 'stat' },
    { path: suid, op: 'exec' },
  ];
}

/** Every probe must be refused with EACCES; root must see every path (so that ENOENT cannot pass for safety). */
function assertRefused(t: Test, what: string, probes: Probe[]): void {
  for (const p of probes) t.ok(existsSync(p.path), `${what}: ${p.path} exists (root view)`);
  const results = probeAsNobody(probes);
  const open = results.filter((r) => r.code !== 'EACCES');
  t.same(open, [], `${what}: all ${results.length} probes as nobody refused with EACCES`);
}

async function scenario(t: Test, driver: 'dir' | 'btrfs'): Promise<void> {
  const d = await withDaemon(t);
  const pool = driver === 'dir' ? 'default' : 'bt';
  if (driver === 'btrfs') await d.client.createStoragePool({ name: pool, driver: 'btrfs', config: {}, description: '' });
  const poolPath = join(d.dir, 'storage-pools', pool);
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')} ${r.stderr}`);
    return r.stdout;
  };

  const scratch = mkdtempSync(join(tmpdir(), 'exposure-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const hostDir = join(scratch, 'shared');
  mkdirSync(hostDir);
  chmodSync(hostDir, 0o755);
  chmodSync(scratch, 0o755);
  writeFileSync(join(hostDir, 'h'), 'host file\n');

  await ok(['storage', 'volume', 'create', pool, 'vol']);
  writeFileSync(join(poolPath, 'custom', 'default_vol', 'secret'), 'custom secret\n');
  await ok(['init', 'busybox', 'c1', '-s', pool]);
  await ok(['config', 'device', 'add', 'c1', 'data', 'disk', `pool=${pool}`, 'source=vol', 'path=/data']);
  await ok(['config', 'device', 'add', 'c1', 'host', 'disk', `source=${hostDir}`, 'path=/host']);
  await ok(['start', 'c1']);
  await ok(['launch', 'busybox', 'c2', '-s', pool, '-c', 'security.privileged=true']);

  t.equal(await ok(['exec', 'c1', '--', 'cat', '/data/secret']), 'custom secret\n', 'custom volume readable inside');
  t.equal(await ok(['exec', 'c1', '--', 'cat', '/host/h']), 'host file\n', 'host path disk readable inside');
  t.equal(await ok(['exec', 'c2', '--', 'id', '-u']), '0\n', 'privileged container runs');
  await ok(['exec', 'c1', '--', 'sh', '-c', 'cp /bin/busybox /suid && chown 0:0 /suid && chmod 4755 /suid']);
  const suid = statSync(join(poolPath, 'containers', 'c1', 'rootfs', 'suid'));
  t.equal(suid.mode & 0o4000, 0o4000, 'the attack binary is setuid on the host');

  const local = join(scratch, 'push.txt');
  writeFileSync(local, 'pushed\n');
  await ok(['file', 'push', local, 'c1/root/pushed.txt']);
  await ok(['file', 'pull', 'c1/root/pushed.txt', join(scratch, 'pulled.txt')]);
  t.equal(readFileSync(join(scratch, 'pulled.txt'), 'utf8'), 'pushed\n', 'file push/pull on a running container');
  await ok(['snapshot', 'create', 'c1', 'snap0']);
  await ok(['storage', 'volume', 'snapshot', 'create', pool, 'vol', 'vs0']);

  const everything = (started: string[], stopped: string[]): Probe[] => [
    ...started.flatMap((n) => containerProbes(d, poolPath, n, true)),
    ...stopped.flatMap((n) => containerProbes(d, poolPath, n, false)),
    ...dataProbes(d, poolPath),
  ];

  assertRefused(t, 'running', everything(['c1', 'c2'], []));
  assertRefused(t, 'setuid attack, running', attackProbes(poolPath));

  await ok(['stop', 'c1', '--force']);
  await ok(['stop', 'c2', '--force']);
  assertRefused(t, 'stopped', everything(['c1', 'c2'], []));
  assertRefused(t, 'setuid attack, stopped', attackProbes(poolPath));

  await ok(['file', 'pull', 'c1/root/pushed.txt', join(scratch, 'pulled-stopped.txt')]);
  t.equal(readFileSync(join(scratch, 'pulled-stopped.txt'), 'utf8'), 'pushed\n', 'file pull on a stopped container');
  await ok(['copy', 'c1', 'c3']);
  await ok(['copy', 'c1/snap0', 'c4']);
  await ok(['publish', 'c1', '--alias', 'published']);
  assertRefused(t, 'copies and published image', everything(['c1', 'c2'], ['c3', 'c4']));

  // Restarts after the stop, and the copies start too.
  for (const n of ['c1', 'c2', 'c3', 'c4']) await ok(['start', n]);
  t.equal(await ok(['exec', 'c1', '--', 'cat', '/data/secret']), 'custom secret\n', 'custom volume after a restart');
  t.equal(await ok(['exec', 'c3', '--', 'cat', '/root/pushed.txt']), 'pushed\n', 'copy runs');
  t.equal(await ok(['exec', 'c4', '--', 'true']), '', 'copy of a snapshot runs');
  assertRefused(t, 'restarted', everything(['c1', 'c2', 'c3', 'c4'], []));

  // An older installation: the daemon closes up the modes it finds at start.
  const loosen = [
    poolPath,
    join(poolPath, 'custom'),
    join(poolPath, 'custom', 'default_vol'),
    join(poolPath, 'images'),
    join(poolPath, 'containers', 'c1'),
    join(poolPath, 'containers', 'c3'),
    join(poolPath, 'containers-snapshots', 'c1'),
    join(poolPath, 'custom-snapshots', 'default_vol'),
    join(d.dir, 'images'),
  ];
  for (const p of loosen) chmodSync(p, p === poolPath ? 0o755 : 0o711);
  t.not(probeAsNobody([{ path: join(poolPath, 'containers', 'c3', 'rootfs', 'bin', 'busybox'), op: 'stat' }])[0]!.code, 'EACCES', 'loosened modes expose the rootfs');
  await d.signal('SIGTERM');
  await d.start();
  assertRefused(t, 'after a daemon restart over loose modes', everything(['c1', 'c2', 'c3', 'c4'], []));
  t.equal(await ok(['exec', 'c3', '--', 'true']), '', 'running container untouched by the restart');
  await ok(['restart', 'c3', '--force']);
  t.equal(await ok(['exec', 'c3', '--', 'true']), '', 'and restarts');
}

t.test('dir pool: no host exposure', (t) => scenario(t, 'dir'));
t.test('btrfs pool: no host exposure', { skip: haveBtrfs ? false : 'no btrfs on this host' }, (t) => scenario(t, 'btrfs'));

/**
 * The fallback without idmapped mounts: a rootfs shifted on disk is mounted
 * by the container's root, so while it runs the volume directory is that
 * uid's (still 0100), and root's again once stopped. Made here by shifting
 * a stopped container's rootfs and recording the map as the daemon would.
 */
t.test('shifted rootfs: started by the container root, unreachable to others', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')} ${r.stderr}`);
    return r.stdout;
  };
  await ok(['init', 'busybox', 'c1']);
  const map = (await ok(['config', 'get', 'c1', 'volatile.idmap.current'])).trim();
  const hostRoot = (JSON.parse(map) as { Isuid: boolean; Hostid: number; Nsid: number }[]).find((e) => e.Isuid && e.Nsid === 0)!.Hostid;
  const vol = join(d.dir, 'storage-pools', 'default', 'containers', 'c1');
  await d.signal('SIGTERM');
  const { shiftTree } = require('../../lib/native/idmap') as typeof import('../../lib/native/idmap');
  await shiftTree(join(vol, 'rootfs'), hostRoot, hostRoot);
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(globalDbPath(d.dir));
  const set = db.prepare(`UPDATE instances SET config = json_set(config, '$."volatile.last_state.idmap"', ?) WHERE name = 'c1'`).run(map);
  db.close();
  t.equal(set.changes, 1, 'map recorded as shifted on disk');
  await d.start();

  await ok(['start', 'c1']);
  t.equal(await ok(['exec', 'c1', '--', 'stat', '-c', '%u', '/bin/busybox']), '0\n', 'shifted rootfs seen as root-owned inside');
  t.equal(statSync(vol).uid, hostRoot, 'volume directory owned by the container root while running');
  t.equal(statSync(vol).mode & 0o7777, 0o100, 'and traversable only by it');
  assertRefused(t, 'shifted, running', containerProbes(d, join(d.dir, 'storage-pools', 'default'), 'c1', true));
  await ok(['stop', 'c1', '--force']);
  t.equal(statSync(vol).uid, 0, 'root-owned again once stopped');
  await ok(['file', 'pull', 'c1/etc/hostname', '-']);
  await ok(['start', 'c1']);
  await ok(['exec', 'c1', '--', 'true']);
});
