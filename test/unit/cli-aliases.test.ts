/** User command aliases: expansion as Incus's main_aliases.go does it, and `incus alias` on config.yml. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { expandAlias, findAlias, shellSplit, userAliases } from '../../lib/cli/aliases';
import { run } from '../../lib/cli/main';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-aliases-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const env = { INCUS_SOCKET: path.join(dir, 'unix.socket'), INCUS_CONF: path.join(dir, 'conf') };

async function incus(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env });
  return { code, out, err };
}

t.test('shellSplit follows go-shellquote', async (t) => {
  t.same(shellSplit(`image list`), ['image', 'list']);
  t.same(shellSplit(`exec @ARGS@ -- sh -c 'echo a  b' "x\\"y"`), ['exec', '@ARGS@', '--', 'sh', '-c', 'echo a  b', 'x"y']);
  t.equal(shellSplit(`a 'b`), null);
});

t.test('the longest alias wins; flags before the command stay in front', async (t) => {
  const aliases = { i: 'image', 'i ls': 'image list --format csv', l: 'list' };
  t.same(findAlias(aliases, ['i', 'ls', 'x'])?.key, ['i', 'ls']);
  t.same(expandAlias(aliases, ['--project', 'p1', 'i', 'ls', 'x']), { kind: 'incus', args: ['--project', 'p1', 'image', 'list', '--format', 'csv', 'x'] });
  t.same(expandAlias(aliases, ['l']), { kind: 'incus', args: ['list'] });
  t.equal(expandAlias(aliases, ['list']), null);
  t.equal(expandAlias(aliases, ['--', 'l']), null);
});

t.test('@ARGS@ and @ARGn@', async (t) => {
  const aliases = { sh: 'exec @ARG1@ -- sh -c @ARGS@', tgt: 'copy @ARG2@ @ARG1@', ext: '/bin/echo hi' };
  t.same(expandAlias(aliases, ['sh', 'c1', 'ls /']), { kind: 'incus', args: ['exec', 'c1', '--', 'sh', '-c', 'ls /'] });
  t.same(expandAlias(aliases, ['tgt', 'a', 'b', 'c']), { kind: 'incus', args: ['copy', 'b', 'a', 'c'] });
  t.same(expandAlias(aliases, ['ext', 'x']), { kind: 'external', args: ['/bin/echo', 'hi', 'x'] });
  t.throws(() => expandAlias(aliases, ['tgt', 'a']), /Found alias "tgt" references an argument outside the given number/);
});

t.test('incus alias add|list|rename|remove, then expansion without recursion', async (t) => {
  t.same(userAliases(env), {}, 'no file, no aliases');
  t.equal((await incus('alias', 'add', 'l', 'alias list')).code, 0);
  t.same(await incus('alias', 'add', 'l', 'list'), { code: 1, out: '', err: 'Error: Alias l already exists\n' });
  const table = await incus('alias', 'list');
  t.match(table.out, /\| +ALIAS +\| +TARGET +\|/);
  t.match(table.out, /\| shell +\| exec @ARGS@ -- su -l +\|/, 'the default alias is listed');
  t.equal((await incus('alias', 'add', 'alias list', 'alias list --format csv')).code, 0);
  // "l" expands to "alias list", which the "alias list" alias does not expand again.
  const viaAlias = await incus('l');
  t.equal(viaAlias.code, 0, viaAlias.err);
  t.match(viaAlias.out, /\| alias list +\| alias list --format csv +\|/, 'a table: "alias list" was not expanded a second time');
  t.equal((await incus('alias', 'list')).out, 'alias list,alias list --format csv\nl,alias list\nshell,exec @ARGS@ -- su -l\n', 'aliases override commands');
  t.equal((await incus('alias', 'rename', 'l', 'll')).code, 0);
  t.same(await incus('alias', 'rename', 'l', 'x'), { code: 1, out: '', err: "Error: Alias l doesn't exist\n" });
  t.equal((await incus('alias', 'remove', 'll')).code, 0);
  t.equal((await incus('alias', 'rm', 'alias list')).code, 0);
  t.same(userAliases(env), {});
  t.same(await incus('alias', 'remove', 'll'), { code: 1, out: '', err: "Error: Alias ll doesn't exist\n" });
});
