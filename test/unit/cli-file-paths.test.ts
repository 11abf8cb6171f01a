import t from 'tap';
import { cleanPath as cleanRelative } from '../../lib/api/paths';
import { isStdin, isStdout, normalizePath, parseIdFlag, parseInstancePath, parseModeFlag } from '../../lib/cli/files/paths';

t.test('instance paths', async (t) => {
  t.same(parseInstancePath('c1/etc/hosts'), { instance: 'c1', path: 'etc/hosts' });
  t.same(parseInstancePath('local:c1/'), { instance: 'c1', path: '' });
  t.throws(() => parseInstancePath('c1'), /expected <instance>\/<path>/);
  t.throws(() => parseInstancePath('/etc'), /expected/);
  t.throws(() => parseInstancePath('other:c1/x'), /The remote "other" doesn't exist/);
});

t.test('paths are cleaned like Go path.Clean, a trailing / asks for a directory', async (t) => {
  t.same(normalizePath('etc/hosts'), { path: '/etc/hosts', isDir: false });
  t.same(normalizePath('root/dir/'), { path: '/root/dir', isDir: true });
  t.same(normalizePath(''), { path: '/', isDir: true });
  t.same(normalizePath('../../etc//x/./y/..'), { path: '/etc/x', isDir: false });
  t.equal(cleanRelative('../a/./b/../c/'), '../a/c');
  t.equal(cleanRelative('/x/../../y'), '/y');
  t.equal(cleanRelative('a/..'), '.');
  t.ok(isStdin('-') && isStdin('/dev/stdin') && !isStdin('x'));
  t.ok(isStdout('-') && isStdout('/dev/fd/1') && !isStdout('/dev/stdin'));
});

t.test('--mode and --uid as Incus reads them', async (t) => {
  t.equal(parseModeFlag('644'), 0o644, 'three digits are octal');
  t.equal(parseModeFlag('0600'), 0o600);
  t.equal(parseModeFlag('0o750'), 0o750);
  t.equal(parseModeFlag('0x1ff'), 0o777);
  t.equal(parseModeFlag('4755'), 4755 & 0o777, 'four digits without 0 are decimal, as strconv reads them');
  t.throws(() => parseModeFlag('rwx'), /invalid syntax/);
  t.equal(parseIdFlag('-1'), -1);
  t.equal(parseIdFlag('1000'), 1000);
  t.throws(() => parseIdFlag('root'));
});
