/**
 * The backup tests again on a btrfs pool over a loop file the daemon
 * creates (the default run uses dir); then optimized backups, which only
 * btrfs makes: Incus's layout (`container.bin`, `snapshots/<snap>.bin`,
 * `volume.bin`, `volume-snapshots/<snap>.bin`), imports under the same and
 * a new name, and bad files leaving nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { importBackup } from '../../lib/client/backups';
import { lxcAttach } from './lib/attach';
import { withDaemon } from './lib/daemon';

const tarList = (file: string): string[] => spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
const tarRead = (file: string, member: string): string => spawnSync('tar', ['-xOf', file, member], { encoding: 'utf8' }).stdout;
const readonly = (path: string): string => spawnSync('btrfs', ['property', 'get', '-ts', path, 'ro'], { encoding: 'utf8' }).stdout.trim();

if (spawnSync('mkfs.btrfs', ['--version']).status !== 0) {
  t.pass('skipped: no btrfs-progs (mkfs.btrfs) on this host', { skip: true });
} else {
  process.env.INCUS_TEST_POOL_DRIVER = 'btrfs';
  require('./backup.test');

  t.test('optimized backups on btrfs: layout, import, bad files', async (t) => {
    const d = await withDaemon(t);
    const pool = 'opt';
    await d.client.createStoragePool({ name: pool, driver: 'btrfs', config: {}, description: '' });
    t.teardown(async () => {
      for (const n of ['o1', 'o2', 'o3']) await d.cli(['delete', '-f', n]);
      for (const v of ['v1', 'v2', 'v3']) await d.cli(['storage', 'volume', 'delete', pool, v]);
      await d.cli(['storage', 'delete', pool]);
    });
    const ok = async (args: string[]): Promise<string> => {
      const r = await d.cli(args);
      t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const mount = join(d.dir, 'storage-pools', pool);
    const vol = (n: string): string => join(mount, 'containers', n);
    const snapVol = (n: string, s: string): string => join(mount, 'containers-snapshots', n, s);
    const subvolumes = (): string[] =>
      spawnSync('btrfs', ['subvolume', 'list', mount], { encoding: 'utf8' })
        .stdout.split('\n')
        .map((l) => /path (.*)$/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .sort();

    await ok(['init', 'busybox', 'o1', '-s', pool]);
    const marker = (n: string): string => join(vol(n), 'rootfs', 'marker');
    writeFileSync(marker('o1'), 'one\n');
    await ok(['snapshot', 'create', 'o1', 'snap0']);
    writeFileSync(marker('o1'), 'two\n');
    await ok(['snapshot', 'create', 'o1', 'snap1']);
    writeFileSync(marker('o1'), 'three\n');

    // The API records the truth.
    const made = await d.client.raw('POST', '/1.0/instances/o1/backups', { name: 'ob', optimized_storage: true });
    await d.client.raw('GET', `${(made.response as { operation: string }).operation}/wait`);
    const row = (await d.client.raw('GET', '/1.0/instances/o1/backups/ob')).response as unknown as { metadata: { optimized_storage: boolean } };
    t.equal(row.metadata.optimized_storage, true, 'an optimized backup on btrfs is recorded as one');
    await d.client.raw('DELETE', '/1.0/instances/o1/backups/ob');

    const file = join(d.dir, 'o1.tar.gz');
    await ok(['export', 'o1', file, '--optimized-storage']);
    t.same(
      tarList(file),
      ['backup/index.yaml', 'backup/optimized_header.yaml', 'backup/snapshots/snap0.bin', 'backup/snapshots/snap1.bin', 'backup/container.bin'],
      "Incus's optimized layout, nothing else",
    );
    const idx = parse(tarRead(file, 'backup/index.yaml')) as Record<string, unknown>;
    t.match(idx, { name: 'o1', backend: 'btrfs', pool, snapshots: ['snap0', 'snap1'], optimized: true, optimized_header: true, type: 'container' }, 'index.yaml says optimized');
    const header = parse(tarRead(file, 'backup/optimized_header.yaml')) as { subvolumes: { path: string; snapshot: string; readonly: boolean }[] };
    t.match(
      header.subvolumes,
      [
        { path: '/', snapshot: 'snap0', readonly: true },
        { path: '/', snapshot: 'snap1', readonly: true },
        { path: '/', snapshot: '', readonly: false },
      ],
      'the restoration header lists the subvolumes',
    );
    t.same(readdirSync(join(mount, 'containers')), ['o1'], 'the read-only send snapshot is gone');
    const staged = readdirSync(join(d.dir, 'backups', 'instances')).flatMap((x) => readdirSync(join(d.dir, 'backups', 'instances', x)));
    t.same(staged, [], 'no stream or scratch file left in backups/');
    const only = join(d.dir, 'o1-only.tar.gz');
    await ok(['export', 'o1', only, '--optimized-storage', '--instance-only']);
    t.same(tarList(only), ['backup/index.yaml', 'backup/optimized_header.yaml', 'backup/container.bin'], '--instance-only: the volume alone');

    // Import under the original name, then a new one beside it.
    const before = subvolumes();
    await ok(['delete', 'o1']);
    await ok(['import', file]);
    t.equal(readFileSync(marker('o1'), 'utf8'), 'three\n', 'volume back');
    t.equal(readFileSync(join(snapVol('o1', 'snap0'), 'rootfs', 'marker'), 'utf8'), 'one\n', 'snap0 back');
    t.equal(readFileSync(join(snapVol('o1', 'snap1'), 'rootfs', 'marker'), 'utf8'), 'two\n', 'snap1 back (a delta from snap0)');
    t.equal(readonly(snapVol('o1', 'snap1')), 'ro=true', 'snapshots read-only');
    t.equal(readonly(vol('o1')), 'ro=false', 'the volume writable');
    t.same(subvolumes(), before, 'the same subvolumes as before the export, no leftovers');
    t.same((JSON.parse(await ok(['snapshot', 'list', 'o1', '-f', 'json'])) as { name: string }[]).map((s) => s.name), ['snap0', 'snap1'], 'snapshot rows back');
    await ok(['start', 'o1']);
    t.equal(lxcAttach(d.dir, 'o1', ['cat', '/marker']).out, 'three\n', 'the imported instance runs with its data');
    await ok(['stop', '-f', 'o1']);
    await ok(['snapshot', 'restore', 'o1', 'snap0']);
    t.equal(readFileSync(marker('o1'), 'utf8'), 'one\n', 'restoring an imported snapshot works');

    await ok(['import', file, 'o2']);
    t.equal(readFileSync(marker('o2'), 'utf8'), 'three\n', 'imported under a new name');
    t.equal(readFileSync(join(snapVol('o2', 'snap1'), 'rootfs', 'marker'), 'utf8'), 'two\n', 'with its snapshots');
    // Nested subvolumes would be sent as empty folders: refused, nothing left behind.
    const nested = join(vol('o2'), 'rootfs', 'nested');
    spawnSync('btrfs', ['subvolume', 'create', nested]);
    const refused = await d.cli(['export', 'o2', join(d.dir, 'o2.tar.gz'), '--optimized-storage']);
    t.match(refused.stderr, /Nested subvolume .* is not supported/, 'a volume with a nested subvolume is refused');
    t.same(readdirSync(join(mount, 'containers')).sort(), ['o1', 'o2'], 'no send snapshot left');
    t.same(JSON.parse(await ok(['query', '/1.0/instances/o2/backups'])), [], 'no backup row left');
    spawnSync('btrfs', ['subvolume', 'delete', nested]);
    await ok(['import', only, 'o3']);
    t.same(JSON.parse(await ok(['snapshot', 'list', 'o3', '-f', 'json'])), [], 'an --instance-only file imports without snapshots');
    await ok(['delete', 'o3']);

    // A truncated file: 400 before anything is made.
    const subs = subvolumes();
    const whole = readFileSync(file);
    const trunc = join(d.dir, 'trunc.tar.gz');
    writeFileSync(trunc, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const err = (await importBackup(d.client, trunc, { name: 'o3' }).catch((e: unknown) => e)) as Error & { status?: number };
    t.match({ status: err.status, message: err.message }, { status: 400, message: /Invalid backup file/ }, 'a truncated optimized tarball: 400');
    // A whole tarball whose volume stream is cut short: the snapshots arrive, then all is undone.
    const parts = join(d.dir, 'parts');
    spawnSync('mkdir', ['-p', parts]);
    spawnSync('tar', ['-xzf', file, '-C', parts]);
    const bin = join(parts, 'backup', 'container.bin');
    writeFileSync(bin, readFileSync(bin).subarray(0, 2000));
    const cut = join(d.dir, 'cut.tar');
    spawnSync('tar', ['-cf', cut, '-C', parts, ...tarList(file)]);
    const r = await d.cli(['import', cut, 'o3']);
    t.not(r.code, 0, 'a broken stream fails the import');
    t.match(r.stderr, /receive/i, `with btrfs's reason: ${r.stderr.trim()}`);
    t.notOk(existsSync(vol('o3')), 'no volume left');
    t.notOk(existsSync(join(mount, 'containers-snapshots', 'o3')), 'no snapshot folder left');
    t.same(subvolumes(), subs, 'no subvolume left');
    t.same(readdirSync(join(mount, 'containers')).sort(), ['o1', 'o2'], 'no receive folder left');
    t.same((await d.client.getInstances(0)).sort(), ['o1', 'o2'], 'no instance row');

    // A custom volume: volume.bin and volume-snapshots/<snap>.bin.
    await ok(['storage', 'volume', 'create', pool, 'v1']);
    const cvol = (n: string): string => join(mount, 'custom', `default_${n}`);
    writeFileSync(join(cvol('v1'), 'data'), 'first\n');
    await ok(['storage', 'volume', 'snapshot', 'create', pool, 'v1', 's0']);
    writeFileSync(join(cvol('v1'), 'data'), 'second\n');
    const vfile = join(d.dir, 'v1.tar.gz');
    await ok(['storage', 'volume', 'export', pool, 'v1', vfile, '--optimized-storage']);
    t.same(tarList(vfile), ['backup/index.yaml', 'backup/optimized_header.yaml', 'backup/volume-snapshots/s0.bin', 'backup/volume.bin'], "a volume's optimized layout");
    t.match(parse(tarRead(vfile, 'backup/index.yaml')), { type: 'custom', optimized: true, snapshots: ['s0'] });
    await ok(['storage', 'volume', 'import', pool, vfile, 'v2']);
    t.equal(readFileSync(join(cvol('v2'), 'data'), 'utf8'), 'second\n', 'the volume imported under a new name');
    t.equal(readFileSync(join(mount, 'custom-snapshots', 'default_v2', 's0', 'data'), 'utf8'), 'first\n', 'with its snapshot');
    t.same(JSON.parse(await ok(['query', `/1.0/storage-pools/${pool}/volumes/custom/v2/snapshots`])), [`/1.0/storage-pools/${pool}/volumes/custom/v2/snapshots/s0`], 'and its snapshot row');
    await ok(['storage', 'volume', 'delete', pool, 'v1']);
    await ok(['storage', 'volume', 'import', pool, vfile]);
    t.equal(readFileSync(join(cvol('v1'), 'data'), 'utf8'), 'second\n', 'and under its own name');
    const vtrunc = join(d.dir, 'vtrunc.tar.gz');
    const vwhole = readFileSync(vfile);
    writeFileSync(vtrunc, vwhole.subarray(0, Math.floor(vwhole.length * 0.6)));
    const vsubs = subvolumes();
    const bad = await d.cli(['storage', 'volume', 'import', pool, vtrunc, 'v3']);
    t.match(bad.stderr, /Invalid backup file/, 'a truncated volume backup is refused');
    t.same(subvolumes(), vsubs, 'leaving no subvolume');
    t.notOk(existsSync(cvol('v3')), 'and no volume');
  });
}
