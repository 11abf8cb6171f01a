/** Pure logic of instance copy (which config keys travel), of backup index parsing and of optimized backups' checks. */
import t from 'tap';
import { keptWhenCopying, mergeCopyConfig } from '../../../lib/server/instance/copy';
import { parseBackupIndex } from '../../../lib/server/instance/backup-import';
import { checkOptimizedImport, isOptimized, optimizedFiles, optimizedFor } from '../../../lib/server/instance/backup-optimized';
import { checkCompression, INSTANCE_PARTS, VOLUME_PARTS } from '../../../lib/server/instance/backup-tarball';
import type { StorageDriver } from '../../../lib/server/storage/interface';

t.test('copy keeps config but a fresh volatile identity', async (t) => {
  t.ok(keptWhenCopying('limits.memory'));
  t.ok(keptWhenCopying('volatile.base_image'), 'base image kept');
  t.ok(keptWhenCopying('volatile.last_state.idmap'), 'idmap state kept (no remap)');
  t.notOk(keptWhenCopying('volatile.uuid'));
  t.notOk(keptWhenCopying('volatile.eth0.hwaddr'));
  const merged = mergeCopyConfig(
    { 'user.a': '1', 'user.b': '2', 'volatile.uuid': 'x', 'volatile.eth0.hwaddr': '00:16:3e:00:00:01', 'volatile.base_image': 'fp' },
    { 'user.b': 'override', 'user.c': '3', 'volatile.uuid': 'forged' },
  );
  t.same(merged, { 'user.a': '1', 'user.b': 'override', 'volatile.base_image': 'fp', 'user.c': '3' });
});

t.test('backup index: what an import needs, clear 400s otherwise', async (t) => {
  const good = 'name: c1\nbackend: dir\npool: default\nsnapshots: [snap0]\nconfig:\n  container:\n    name: c1\n    config: {}\n';
  t.equal(parseBackupIndex(good).name, 'c1');
  t.same(parseBackupIndex(good).snapshots, ['snap0']);
  const status = (text: string): number | undefined => {
    try {
      parseBackupIndex(text);
      return undefined;
    } catch (err) {
      return (err as { status?: number }).status;
    }
  };
  t.equal(status(': : :\n  - ['), 400, 'bad YAML');
  t.equal(status('name: c1\n'), 400, 'no config');
  t.equal(status('- a\n- b\n'), 400, 'not a map');
  t.equal(parseBackupIndex(`${good}optimized: true\n`).optimized, true, 'an optimized index parses (the pool driver reads its streams)');
  t.equal(status(good.replace('backend: dir', 'backend: dir\ntype: virtual-machine')), 400, 'VMs refused');
});

t.test('backup compression names', async (t) => {
  t.equal(checkCompression(undefined), 'gzip', 'gzip by default');
  t.equal(checkCompression('zstd'), 'zstd');
  t.equal(checkCompression('none'), 'none');
  t.throws(() => checkCompression('lz77'), /Compression algorithm "lz77" isn't currently supported/);
  t.equal(checkCompression('gzip --rsyncable'), 'gzip --rsyncable', 'levels and --rsyncable are allowed arguments');
  t.throws(() => checkCompression('ps'), /Compression algorithm "ps" isn't currently supported/);
  t.throws(() => checkCompression('gzip --to-stdout'), /Compression algorithm argument "--to-stdout" isn't allowed/);
});

t.test('optimized backups: when made, stream names, import checks', async (t) => {
  const driver = (optimizedBackups: boolean): StorageDriver => ({ info: { optimizedBackups } }) as StorageDriver;
  t.ok(optimizedFor(true, driver(true)), 'asked for on btrfs: optimized');
  t.notOk(optimizedFor(true, driver(false)), 'asked for on a driver without them: a normal backup (as Incus)');
  t.notOk(optimizedFor(false, driver(true)), 'not asked for: normal');
  t.notOk(optimizedFor(true, driver(true), 'iso'), 'never for an ISO volume');
  t.same([optimizedFiles(INSTANCE_PARTS).volume, optimizedFiles(INSTANCE_PARTS).snapshot('snap0')], ['container.bin', 'snapshots/snap0.bin']);
  t.same([optimizedFiles(VOLUME_PARTS).volume, optimizedFiles(VOLUME_PARTS).snapshot('s0')], ['volume.bin', 'volume-snapshots/s0.bin']);

  const idx = { name: 'c1', backend: 'btrfs', pool: 'p', snapshots: ['snap0'], optimized: true, optimized_header: true };
  const members = new Set(['backup/index.yaml', 'backup/optimized_header.yaml', 'backup/snapshots/snap0.bin', 'backup/container.bin']);
  t.ok(isOptimized(idx, members, INSTANCE_PARTS));
  t.ok(isOptimized({ name: 'c1', backend: 'btrfs', pool: 'p' }, members, INSTANCE_PARTS), 'an older index without the flag: container.bin says so');
  t.notOk(isOptimized({ ...idx, optimized: false }, members, INSTANCE_PARTS), 'the flag wins');
  const status = (fn: () => void): number | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as { status?: number }).status;
    }
  };
  t.equal(status(() => checkOptimizedImport(idx, members, INSTANCE_PARTS, 'btrfs', driver(true))), undefined, 'complete and on its driver');
  t.throws(() => checkOptimizedImport(idx, members, INSTANCE_PARTS, 'dir', driver(false)), /Optimized backup storage driver "btrfs" differs from the target storage pool driver "dir"/);
  const noSnap = new Set([...members].filter((m) => !m.includes('snap0')));
  t.equal(status(() => checkOptimizedImport(idx, noSnap, INSTANCE_PARTS, 'btrfs', driver(true))), 400, 'a missing snapshot stream: 400');
  const noHeader = new Set([...members].filter((m) => !m.includes('header')));
  t.equal(status(() => checkOptimizedImport(idx, noHeader, INSTANCE_PARTS, 'btrfs', driver(true))), 400, 'a header promised but missing: 400');
  t.equal(status(() => checkOptimizedImport({ ...idx, optimized_header: false }, noHeader, INSTANCE_PARTS, 'btrfs', driver(true))), undefined, 'older files without a header');
});
