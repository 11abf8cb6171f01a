import t from 'tap';
import { UsageError, parseBuilderArgs, parseSourceDateEpoch } from '../../lib/image-builder/args';
import { tarArgs, tarballSuffix } from '../../lib/image-builder/tar';

t.test('parseBuilderArgs reads the busybox command', async (t) => {
  t.same(parseBuilderArgs(['busybox']), {
    kind: 'busybox', output: undefined, compression: 'xz', busybox: undefined, importAlias: undefined, help: false,
  });
  t.same(parseBuilderArgs(['busybox', '--output', '/tmp/x.tar.gz', '--compression', 'gzip', '--busybox', '/b', '--import', 'bb']), {
    kind: 'busybox', output: '/tmp/x.tar.gz', compression: 'gzip', busybox: '/b', importAlias: 'bb', help: false,
  });
  t.equal(parseBuilderArgs(['--help']).help, true);
});

t.test('parseBuilderArgs reads the debian command', async (t) => {
  t.same(parseBuilderArgs(['debian']), {
    kind: 'debian', output: undefined, compression: 'xz', busybox: undefined, importAlias: undefined, release: 'bookworm', mirror: undefined, help: false,
  });
  const a = parseBuilderArgs(['debian', '--release', 'trixie', '--mirror', 'http://deb.debian.org/debian', '--import', 'deb']);
  t.equal(a.release, 'trixie');
  t.equal(a.mirror, 'http://deb.debian.org/debian');
  t.equal(a.importAlias, 'deb');
  t.throws(() => parseBuilderArgs(['busybox', '--release', 'bookworm']), UsageError);
  t.throws(() => parseBuilderArgs(['debian', '--busybox', '/b']), UsageError);
  t.throws(() => parseBuilderArgs(['debian', '--mirror', 'deb.debian.org']), UsageError);
});

t.test('parseBuilderArgs rejects mistakes as usage errors', async (t) => {
  t.throws(() => parseBuilderArgs([]), UsageError);
  t.throws(() => parseBuilderArgs(['alpine']), UsageError);
  t.throws(() => parseBuilderArgs(['busybox', '--compression', 'zstd']), UsageError);
  t.throws(() => parseBuilderArgs(['busybox', '--bogus']), UsageError);
  t.throws(() => parseBuilderArgs(['busybox', '--import', '']), UsageError);
});

t.test('parseSourceDateEpoch', async (t) => {
  t.equal(parseSourceDateEpoch(undefined), undefined);
  t.equal(parseSourceDateEpoch(''), undefined);
  t.equal(parseSourceDateEpoch('1700000000'), 1700000000);
  t.throws(() => parseSourceDateEpoch('yesterday'), UsageError);
});

t.test('tar arguments pin order, owner and mtime', async (t) => {
  const args = tarArgs('/stage', ['metadata.yaml', 'rootfs'], '/out.tar.xz', 'xz', 42);
  for (const a of ['--create', '--xz', '--sort=name', '--mtime=@42', '--owner=0', '--group=0', '--numeric-owner']) {
    t.ok(args.includes(a), a);
  }
  t.same(args.slice(-5), ['-C', '/stage', '--', 'metadata.yaml', 'rootfs']);
  t.ok(tarArgs('/s', ['a'], '/o', 'gzip', 0).includes('--gzip'));
  const plain = tarArgs('/s', ['a'], '/o', 'none', 0);
  t.notOk(plain.includes('--gzip') || plain.includes('--xz'));
  t.equal(tarballSuffix('xz'), '.tar.xz');
  t.equal(tarballSuffix('gzip'), '.tar.gz');
  t.equal(tarballSuffix('none'), '.tar');
});
