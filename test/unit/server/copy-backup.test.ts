/** Pure logic of instance copy (which config keys travel) and of backup index parsing. */
import t from 'tap';
import { keptWhenCopying, mergeCopyConfig } from '../../../lib/server/instance/copy';
import { parseBackupIndex } from '../../../lib/server/instance/backup-import';
import { checkCompression } from '../../../lib/server/instance/backup-tarball';

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
  t.equal(status(`${good}optimized: true\n`), 400, 'optimized refused');
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
