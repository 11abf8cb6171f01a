/** The CLI end to end where no daemon is needed: messages, exit codes, argument errors. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { run } from '../../lib/cli/main';
import { CLIENT_VERSION } from '../../lib/cli/version';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-run-'));
const socket = path.join(dir, 'unix.socket');
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

async function incus(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    env: { INCUS_SOCKET: socket, INCUS_CONF: path.join(dir, 'conf') },
  });
  return { code, out, err };
}

const NO_DAEMON = `Error: The incus daemon doesn't appear to be started (socket path: ${socket})\n`;

t.test('version without a daemon: server unreachable, exit 0', async (t) => {
  t.same(await incus('version'), {
    code: 0,
    out: `Client version: ${CLIENT_VERSION}\nServer version: unreachable\n`,
    err: '',
  });
});

t.test('--verbose and --debug are accepted anywhere, as Incus global flags', async (t) => {
  for (const argv of [['--verbose', 'version'], ['version', '--debug'], ['-v', 'version']]) {
    t.equal((await incus(...argv)).code, 0, argv.join(' '));
  }
  t.same(await incus('list', '--verbose', '--debug'), { code: 1, out: '', err: NO_DAEMON });
});

t.test('commands that need the daemon fail with Incus wording and exit 1', async (t) => {
  for (const argv of [['list'], ['info'], ['start', 'c1'], ['image', 'list'], ['admin', 'init', '--auto']]) {
    t.same(await incus(...argv), { code: 1, out: '', err: NO_DAEMON }, argv.join(' '));
  }
});

t.test('argument errors are reported before connecting', async (t) => {
  t.same(await incus('list', '-f', 'xml'), { code: 1, out: '', err: 'Error: Invalid value "xml" for flag "--format"\n' });
  t.same(await incus('list', '-c', 'nQ'), { code: 1, out: '', err: "Error: Unknown column shorthand char 'Q' in 'nQ'\n" });
  t.same(await incus('list', '--fast', '-c', 'n'), { code: 1, out: '', err: "Error: Can't specify --fast with --columns\n" });
  t.same(await incus('launch', 'nope:debian/12', 'c1'), {
    code: 1,
    out: '',
    err: 'Error: The remote "nope" doesn\'t exist\n',
  });
  t.same(await incus('query', '1.0'), { code: 1, out: '', err: 'Error: Query path must start with /\n' });
  t.same(await incus('query', '-X', 'HEAD', '/1.0'), { code: 1, out: '', err: 'Error: Action "HEAD" isn\'t supported by this tool\n' });
  t.same(await incus('--project', 'p', 'query', '/1.0'), {
    code: 1,
    out: '',
    err: 'Error: --project cannot be used with the query command\n',
  });
  t.same(await incus('create', 'busybox', 'c1', '-c', 'novalue'), { code: 1, out: '', err: NO_DAEMON });
  t.same(await incus('delete', 'c1', 'c2'), {
    code: 1,
    out: '',
    err: `Error: Failed checking instance c1 exists: ${NO_DAEMON.slice(7, -1)}\nFailed checking instance c2 exists: ${NO_DAEMON.slice(7)}`,
  });
});

t.test('commander errors are printed as Error: and exit 1', async (t) => {
  const bogus = await incus('bogus');
  t.equal(bogus.code, 1);
  t.match(bogus.err, /^Error: unknown command 'bogus'/);
  const badInt = await incus('stop', 'c1', '--timeout', 'abc');
  t.equal(badInt.code, 1);
  t.match(badInt.err, /^Error: option '--timeout <seconds>' argument 'abc' is invalid/);
  const missing = await incus('rename', 'c1');
  t.equal(missing.code, 1);
  t.match(missing.err, /^Error: missing required argument/);
});

t.test('help lists the commands and exits 0', async (t) => {
  const help = await incus('--help');
  t.equal(help.code, 0);
  for (const c of ['launch', 'create', 'list', 'info', 'start', 'stop', 'delete', 'rename', 'image', 'admin', 'query', 'version']) {
    t.match(help.out, new RegExp(`\\n  ${c}\\b`), c);
  }
  const v = await incus('--version');
  t.same(v, { code: 0, out: `${CLIENT_VERSION}\n`, err: '' });
});

t.test('bin/incus sets the exit status and flushes output', async (t) => {
  const bin = path.resolve(__dirname, '../../../bin/incus');
  const res = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    const child = execFile(process.execPath, [bin, 'list'], { env: { ...process.env, INCUS_SOCKET: socket } }, (e, out, err) =>
      resolve({ code: e ? (e.code as number) : 0, out, err }),
    );
    child.stdin?.end();
  });
  t.same(res, { code: 1, out: '', err: NO_DAEMON });
});

t.test('image import of a file it cannot open: Go os.Open wording, before any request', async (t) => {
  t.same(await incus('image', 'import', 'missing.file'), { code: 1, out: '', err: 'Error: open missing.file: no such file or directory\n' });
  const meta = path.join(dir, 'meta.tar');
  fs.writeFileSync(meta, '');
  t.same(
    await incus('image', 'import', meta, 'gone//root/'),
    { code: 1, out: '', err: 'Error: open gone/root: no such file or directory\n' },
    'the rootfs path is cleaned as filepath.Clean does',
  );
});
