/**
 * Instance files against a real daemon and container: push/pull of a large
 * random file (CLI and client), ownership and modes, recursive trees with
 * symlinks, escape attempts through symlinks and "..", the REST details
 * (HEAD, listing, symlink GET, append, DELETE, errors), stopped instances,
 * SFTP sessions (ssh2's client and OpenSSH's sftp), and no fd or helper
 * process left behind in the daemon.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiError } from '../../lib/client/errors';
import { InstanceFiles } from '../../lib/client/files';
import { SftpSession } from '../../lib/client/sftp';
import { type TestDaemon, ROOT, withDaemon } from './lib/daemon';

/** Runs a shell script inside the container through lxc-attach; resolves its stdout. */
function inContainer(d: TestDaemon, name: string, script: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('lxc-attach', ['-P', join(d.dir, 'containers'), '-n', name, '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

function sha256File(path: string): string {
  return createHash('sha256').update(fs.readFileSync(path)).digest('hex');
}

/** A raw request whose body is kept as bytes. */
function raw(d: TestDaemon, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // No keep-alive: an idle connection would hold a daemon fd and blur the leak check.
    const req = http.request({ socketPath: d.socket, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const url = (name: string, p: string): string => `/1.0/instances/${name}/files?path=${encodeURIComponent(p)}`;

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Helper processes the daemon still has (forkfile sessions that did not end). */
function forkfileChildren(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes('forkfile')) out.push(Number(e));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Type, mode, content or link target of every entry under dir, keyed by relative path. */
function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const p = join(dir, rel);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(p)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir:${(st.mode & 0o777).toString(8)}`;
      for (const n of fs.readdirSync(p)) walk(join(rel, n));
    } else out[rel] = `file:${(st.mode & 0o777).toString(8)}:${sha256File(p)}`;
  };
  walk('.');
  return out;
}

t.test('files', async (t) => {
  const d = await withDaemon(t);
  const work = fs.mkdtempSync(join(tmpdir(), 'incus-files-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const launch = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(launch.code, 0, launch.stderr);
  const files = new InstanceFiles(d.client);
  t.teardown(() => files.close());

  t.test('64 MiB push then pull is byte-identical, with owner and mode applied', async (t) => {
    const src = join(work, 'big');
    fs.writeFileSync(src, randomBytes(64 * 1024 * 1024));
    const want = sha256File(src);

    const push = await d.cli(['file', 'push', '--uid', '1234', '--gid', '2345', '--mode', '0640', src, 'c1/root/big']);
    t.equal(push.code, 0, push.stderr);
    const head = await raw(d, 'HEAD', url('c1', '/root/big'));
    t.equal(head.status, 200);
    t.equal(head.headers['x-incus-uid'], '1234');
    t.equal(head.headers['x-incus-gid'], '2345');
    t.equal(head.headers['x-incus-mode'], '0640');
    t.equal(head.headers['x-incus-type'], 'file');
    t.equal(head.headers['content-length'], String(64 * 1024 * 1024));
    const inside = await inContainer(d, 'c1', 'stat -c "%u %g %a %s" /root/big');
    t.equal(inside.out.trim(), `1234 2345 640 ${64 * 1024 * 1024}`, 'stat inside the container agrees');

    const back = join(work, 'big.cli');
    const pull = await d.cli(['file', 'pull', 'c1/root/big', back]);
    t.equal(pull.code, 0, pull.stderr);
    t.equal(sha256File(back), want, 'CLI pull is byte-identical');
    t.equal(fs.statSync(back).mode & 0o777, 0o640, 'pull keeps the mode');

    // The same through the client: a stream in, a stream out.
    await files.push('c1', '/root/big2', { content: fs.createReadStream(src), size: fs.statSync(src).size, mode: 0o600 });
    const got = await files.get('c1', '/root/big2');
    t.equal(got.type, 'file');
    if (got.type !== 'directory') {
      const h = createHash('sha256');
      for await (const c of got.stream) h.update(c as Buffer);
      t.equal(h.digest('hex'), want, 'client pull is byte-identical');
    }
    t.equal((await files.stat('c1', '/root/big2')).mode, 0o600);

    // An existing file gets the new owner and mode from the CLI (as Incus's CLI does over SFTP).
    const again = await d.cli(['file', 'push', '--uid', '7', '--gid', '8', '--mode', '0604', src, 'c1/root/big']);
    t.equal(again.code, 0, again.stderr);
    const st = await files.stat('c1', '/root/big');
    t.same([st.uid, st.gid, st.mode], [7, 8, 0o604]);

    const stdout = spawnSync(process.execPath, [join(ROOT, 'bin', 'incus'), 'file', 'pull', 'c1/etc/hostname', '-'], {
      env: { ...process.env, ...d.cliEnv },
      encoding: 'utf8',
    });
    t.equal(stdout.stdout, (await inContainer(d, 'c1', 'cat /etc/hostname')).out, 'pull to stdout');
    // Pseudo files: their stat size (0 in procfs, 4096 in sysfs) is not their length; the pull reads them to their end.
    for (const path of ['/proc/1/cmdline', '/sys/class/net/lo/operstate']) {
      const pulled = spawnSync(process.execPath, [join(ROOT, 'bin', 'incus'), 'file', 'pull', `c1${path}`, '-'], { env: { ...process.env, ...d.cliEnv }, encoding: 'utf8', timeout: 30_000 });
      t.equal(pulled.stdout, (await inContainer(d, 'c1', `cat ${path}`)).out, `pull of ${path} (${pulled.stderr.trim() || 'ok'})`);
    }
    await inContainer(d, 'c1', 'rm -f /root/big /root/big2');
  });

  t.test('-r pushes a tree with nested dirs and symlinks; pull -r brings it back', async (t) => {
    const tree = join(work, 'tree');
    fs.mkdirSync(join(tree, 'a', 'b', 'c'), { recursive: true });
    fs.writeFileSync(join(tree, 'a', 'f1'), 'one\n', { mode: 0o600 });
    fs.writeFileSync(join(tree, 'a', 'b', 'c', 'f2'), randomBytes(300_000));
    fs.writeFileSync(join(tree, 'top'), '');
    fs.chmodSync(join(tree, 'a', 'b'), 0o750);
    fs.symlinkSync('../f1', join(tree, 'a', 'b', 'rel'));
    fs.symlinkSync('/etc/passwd', join(tree, 'abs'));
    fs.symlinkSync('c', join(tree, 'a', 'b', 'dirlink'));

    const push = await d.cli(['file', 'push', '-r', tree, 'c1/root/']);
    t.equal(push.code, 0, push.stderr);
    const ls = await inContainer(d, 'c1', 'cd /root/tree && find . | sort && for l in a/b/rel abs a/b/dirlink; do readlink $l; done');
    t.match(ls.out, /\.\/a\/b\/c\/f2/);
    t.match(ls.out, /\.\.\/f1\n\/etc\/passwd\nc\n$/, 'symlinks keep their targets');

    const back = join(work, 'back');
    const pull = await d.cli(['file', 'pull', '-r', 'c1/root/tree', back]);
    t.equal(pull.code, 0, pull.stderr);
    t.same(treeOf(back), treeOf(tree), 'the tree comes back identical');

    // As cp: "dir/." pulls dir's content, "dir/" the dir itself, into an existing target.
    const merged = join(work, 'merged');
    fs.mkdirSync(merged);
    const two = await d.cli(['file', 'pull', '-r', 'c1/root/tree/a/b/c/.', 'c1/root/tree/a/b/', merged]);
    t.equal(two.code, 0, two.stderr);
    t.same(fs.readdirSync(merged).sort(), ['b', 'f2'], 'c/. gave its content, b/ gave b');
    t.ok(fs.existsSync(join(merged, 'b', 'c', 'f2')), 'b came whole');

    const noR = await d.cli(['file', 'pull', 'c1/root/tree', join(work, 'x')]);
    t.not(noR.code, 0);
    t.match(noR.stderr, '--recursive/-r is required when pulling directories');
    const noRpush = await d.cli(['file', 'push', tree, 'c1/root/other']);
    t.match(noRpush.stderr, '--recursive/-r is required when pushing directories');
  });

  t.test('symlinks and .. never lead out of the container', async (t) => {
    const tag = `incus-ts-evil-${process.pid}`;
    const hostPaths = [`/etc/${tag}`, `/etc/${tag}-2`, `/etc/${tag}-3`, `/etc/${tag}-4`];
    for (const p of hostPaths) t.notOk(fs.existsSync(p), `${p} absent on the host before`);
    t.teardown(() => hostPaths.forEach((p) => fs.rmSync(p, { force: true })));
    t.equal((await inContainer(d, 'c1', 'ln -s / /tmp/esc')).code, 0);

    const src = join(work, 'evil');
    fs.writeFileSync(src, 'evil\n');
    const r = await d.cli(['file', 'push', src, `c1/tmp/esc/etc/${tag}`]);
    t.equal(r.code, 0, r.stderr);
    const dots = await raw(d, 'POST', url('c1', `../../../etc/${tag}-2`), {}, 'dots\n');
    t.equal(dots.status, 200, dots.body.toString());
    const both = await raw(d, 'POST', url('c1', `/tmp/esc/../../tmp/esc/etc/../../../etc/${tag}-3`), {}, 'mixed\n');
    t.equal(both.status, 200, both.body.toString());

    const inside = await inContainer(d, 'c1', `cat /etc/${tag} /etc/${tag}-2 /etc/${tag}-3`);
    t.equal(inside.out, 'evil\ndots\nmixed\n', 'the files are inside the container');
    for (const p of hostPaths) t.notOk(fs.existsSync(p), `${p} absent on the host after`);
    const read = await raw(d, 'GET', url('c1', '/tmp/esc/etc/hostname'));
    t.equal(read.body.toString(), (await inContainer(d, 'c1', 'cat /etc/hostname')).out, 'reads through the link see the container');
    t.not(read.body.toString(), fs.readFileSync('/etc/hostname', 'utf8'), 'not the host');

    // A stopped container goes through its rootfs: the same link must not escape either.
    t.equal((await d.cli(['stop', '-f', 'c1'])).code, 0);
    const stopped = await raw(d, 'POST', url('c1', `/tmp/esc/etc/${tag}-4`), { 'X-Incus-uid': '33' }, 'stopped\n');
    t.equal(stopped.status, 200, stopped.body.toString());
    const rootfs = join(d.dir, 'storage-pools', 'default', 'containers', 'c1', 'rootfs');
    t.equal(fs.readFileSync(join(rootfs, 'etc', `${tag}-4`), 'utf8'), 'stopped\n', 'written in the rootfs');
    t.notOk(fs.existsSync(`/etc/${tag}-4`), 'not on the host');
    const get = await raw(d, 'GET', url('c1', `/etc/${tag}-4`));
    t.equal(get.status, 200, 'a stopped instance is readable (as in Incus)');
    t.equal(get.headers['x-incus-uid'], '33', 'with the container ids');
    t.equal((await d.cli(['start', 'c1'])).code, 0);
  });

  t.test('REST details: HEAD, listing, symlink GET, append, DELETE, errors', async (t) => {
    const mk = await raw(d, 'POST', url('c1', '/root/d'), { 'X-Incus-type': 'directory', 'X-Incus-mode': '0700', 'X-Incus-uid': '5' });
    t.equal(mk.status, 200, mk.body.toString());
    const dirHead = await raw(d, 'HEAD', url('c1', '/root/d'));
    t.same([dirHead.headers['x-incus-type'], dirHead.headers['x-incus-mode'], dirHead.headers['x-incus-uid']], ['directory', '0700', '5']);
    t.equal((await raw(d, 'POST', url('c1', '/root/d'), { 'X-Incus-type': 'directory' })).status, 200, 'an existing directory is fine');

    t.equal((await raw(d, 'POST', url('c1', '/root/d/f'), { 'X-LXD-mode': '0600' }, 'a\n')).status, 200);
    t.equal((await raw(d, 'POST', url('c1', '/root/d/f'), { 'X-Incus-write': 'append' }, 'b\n')).status, 200);
    const f = await raw(d, 'GET', url('c1', '/root/d/f'));
    t.equal(f.body.toString(), 'a\nb\n', 'append adds to the end');
    t.equal(f.headers['x-incus-mode'], '0600', 'the X-LXD spelling is accepted');
    t.equal((await raw(d, 'POST', url('c1', '/root/d/none'), { 'X-Incus-write': 'append' }, 'x')).status, 404, 'append needs an existing file');
    t.equal((await raw(d, 'POST', url('c1', '/root/d/f'), { 'X-Incus-write': 'sideways' }, 'x')).status, 400);
    t.equal((await raw(d, 'POST', url('c1', '/root/d/f'), { 'X-Incus-type': 'fifo' }, 'x')).status, 400);

    t.equal((await raw(d, 'POST', url('c1', '/root/d/l'), { 'X-Incus-type': 'symlink' }, '../d/f')).status, 200);
    const link = await raw(d, 'GET', url('c1', '/root/d/l'));
    t.equal(link.headers['x-incus-type'], 'symlink');
    t.equal(link.body.toString(), '/root/d/f', 'a symlink GET gives its target, made absolute');

    const list = await raw(d, 'GET', url('c1', '/root/d'));
    t.equal(list.headers['x-incus-type'], 'directory');
    const env = JSON.parse(list.body.toString()) as { type: string; metadata: string[] };
    t.equal(env.type, 'sync');
    t.same(env.metadata.sort(), ['f', 'l']);

    const notEmpty = await raw(d, 'DELETE', url('c1', '/root/d'));
    t.equal(notEmpty.status, 400, 'a non-empty directory needs force');
    t.equal((await raw(d, 'DELETE', url('c1', '/root/d/l'))).status, 200);
    t.equal((await raw(d, 'GET', url('c1', '/root/d/f'))).status, 200, 'deleting the link left its target');
    t.equal((await raw(d, 'DELETE', url('c1', '/root/d'), { 'X-Incus-force': 'true' })).status, 200);
    t.equal((await raw(d, 'HEAD', url('c1', '/root/d'))).status, 404);

    const missing = await raw(d, 'GET', url('c1', '/no/such/file'));
    t.equal(missing.status, 404);
    t.equal(JSON.parse(missing.body.toString()).error_code, 404);
    t.equal((await raw(d, 'DELETE', url('c1', '/no/such/file'))).status, 404);
    const unknown = await raw(d, 'GET', url('nope', '/etc/hostname'));
    t.equal(unknown.status, 404);
    t.equal(JSON.parse(unknown.body.toString()).error, 'Instance not found');
    const noPath = await raw(d, 'GET', '/1.0/instances/c1/files');
    t.equal(noPath.status, 400);
    t.equal(JSON.parse(noPath.body.toString()).error, 'Missing path argument');
    await t.rejects(files.stat('c1', '/no/such'), ApiError);

    const cli404 = await d.cli(['file', 'pull', 'c1/no/such', join(work, 'nothing')]);
    t.not(cli404.code, 0);
    const del = await d.cli(['file', 'delete', 'c1/no/such']);
    t.not(del.code, 0);
  });

  t.test('file create and delete through the CLI', async (t) => {
    t.equal((await d.cli(['file', 'create', '-p', 'c1/root/x/y/new', '--mode', '0600', '--uid', '3'])).code, 0);
    t.equal((await d.cli(['file', 'create', '--type', 'directory', 'c1/root/x/dir'])).code, 0);
    t.equal((await d.cli(['file', 'create', '--type', 'symlink', 'c1/root/x/link', '/etc/hostname'])).code, 0);
    const ls = await inContainer(d, 'c1', 'stat -c "%a %u %F" /root/x/y/new /root/x/dir; readlink /root/x/link');
    t.equal(ls.out, '600 3 regular empty file\n755 0 directory\n/etc/hostname\n');
    const bad = await d.cli(['file', 'create', 'c1/root/x/z', 'target']);
    t.match(bad.stderr, 'Symlink target path can only be used for type "symlink"');
    t.equal((await d.cli(['file', 'delete', 'c1/root/x/link'])).code, 0);
    t.not((await d.cli(['file', 'delete', 'c1/root/x'])).code, 0, 'non-empty without -f fails');
    t.equal((await d.cli(['file', 'delete', '-f', 'c1/root/x'])).code, 0);
    t.equal((await inContainer(d, 'c1', 'test -e /root/x')).code, 1, 'gone');

    // edit with stdin not a terminal replaces the content, keeping owner and mode.
    await raw(d, 'POST', url('c1', '/root/ed'), { 'X-Incus-mode': '0610', 'X-Incus-uid': '9' }, 'old\n');
    const ed = await d.cli(['file', 'edit', 'c1/root/ed'], 'new text\n');
    t.equal(ed.code, 0, ed.stderr);
    const after = await raw(d, 'GET', url('c1', '/root/ed'));
    t.equal(after.body.toString(), 'new text\n');
    t.same([after.headers['x-incus-mode'], after.headers['x-incus-uid']], ['0610', '9']);
  });

  t.test('SFTP: list, put, get, symlink, rename over an upgraded connection', async (t) => {
    const s = await SftpSession.open(files, 'c1');
    t.teardown(() => s.close());
    const names = (await s.readdir('/')).map((n) => n.filename);
    t.ok(names.includes('etc') && names.includes('root'), 'lists /');
    const src = join(work, 'sftp-src');
    fs.writeFileSync(src, randomBytes(3 * 1024 * 1024 + 17));
    await promisify(s.raw.fastPut.bind(s.raw))(src, '/root/sftp-file', {});
    const back = join(work, 'sftp-back');
    await promisify(s.raw.fastGet.bind(s.raw))('/root/sftp-file', back, {});
    t.equal(sha256File(back), sha256File(src), 'put then get is byte-identical');
    await s.symlink('/etc/hostname', '/root/sftp-link');
    t.equal(await s.readlink('/root/sftp-link'), '/etc/hostname');
    await s.rename('/root/sftp-file', '/root/sftp-moved');
    await s.setstat('/root/sftp-moved', { mode: 0o604, uid: 11, gid: 12 });
    const st = await s.stat('/root/sftp-moved');
    t.same([st.mode & 0o777, st.uid, st.gid, st.size], [0o604, 11, 12, 3 * 1024 * 1024 + 17]);
    t.equal(await s.realpath('/root/../etc/./x'), '/etc/x');
    await t.rejects(s.stat('/no/such'), { code: 2 }, 'missing: SSH_FX_NO_SUCH_FILE');
    await s.unlink('/root/sftp-moved');
    await s.unlink('/root/sftp-link');

    const noUpgrade = await raw(d, 'GET', '/1.0/instances/c1/sftp');
    t.equal(noUpgrade.status, 400);
    t.equal(JSON.parse(noUpgrade.body.toString()).error, 'Missing or invalid upgrade header');
    const err = await new InstanceFiles(d.client).sftpConnection('nope').then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof ApiError && err.status === 404 && err.message === 'Instance not found', 'unknown instance: 404');
  });

  t.test("OpenSSH's sftp client works against the endpoint", { skip: !fs.existsSync('/usr/bin/sftp') && 'no /usr/bin/sftp' }, async (t) => {
    const src = join(work, 'ossh-src');
    fs.writeFileSync(src, randomBytes(5 * 1024 * 1024));
    const back = join(work, 'ossh-back');
    const batch = join(work, 'batch');
    fs.writeFileSync(batch, [`put ${src} /root/ossh`, `get /root/ossh ${back}`, 'mkdir /root/odir', 'symlink /etc /root/odir/lnk', 'ls -l /root/odir', 'rm /root/ossh', 'rm /root/odir/lnk', 'rmdir /root/odir', 'df /', ''].join('\n'));
    const pipe = join(ROOT, 'dist', 'test', 'integration', 'lib', 'sftp-pipe.js');
    const r = spawnSync('sftp', ['-b', batch, '-D', `${process.execPath} ${pipe} ${d.socket} c1`], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /lrwxrwxrwx .* lnk/);
    t.equal(sha256File(back), sha256File(src), 'OpenSSH put then get is byte-identical');
    t.equal((await inContainer(d, 'c1', 'test -e /root/odir')).code, 1, 'cleaned up through sftp');
  });

  t.test('no fd or helper process is left behind in the daemon', async (t) => {
    const pid = d.pid;
    // One of each first, so lazily created handles are already there.
    await raw(d, 'GET', url('c1', '/etc/hostname'));
    await raw(d, 'GET', url('c1', '/nope'));
    const before = openFds(pid);
    for (let i = 0; i < 60; i++) {
      await raw(d, 'POST', url('c1', `/root/leak${i % 5}`), {}, `n${i}`);
      await raw(d, 'GET', url('c1', `/root/leak${i % 5}`));
      await raw(d, 'HEAD', url('c1', '/etc'));
      await raw(d, 'GET', url('c1', '/etc'));
      await raw(d, 'GET', url('c1', '/no/such'));
      await raw(d, 'DELETE', url('c1', `/root/gone${i}`));
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => raw(d, 'GET', url('c1', `/root/leak${i % 5}`))));
    // Transfers the client gives up half way.
    fs.writeFileSync(join(work, 'abort-src'), randomBytes(32 * 1024 * 1024));
    await raw(d, 'POST', url('c1', '/root/abort'), {}, fs.readFileSync(join(work, 'abort-src')));
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = http.request({ socketPath: d.socket, method: 'GET', path: url('c1', '/root/abort'), agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      });
      await new Promise<void>((resolve) => {
        const req = http.request({ socketPath: d.socket, method: 'POST', path: url('c1', '/root/abort-up'), agent: false, headers: { 'Content-Length': String(8 * 1024 * 1024) } });
        req.on('error', () => resolve());
        req.write(randomBytes(1024 * 1024), () => setTimeout(() => {
          req.destroy();
          resolve();
        }, 50));
      });
    }
    for (let i = 0; i < 10; i++) {
      const s = await SftpSession.open(files, 'c1');
      await s.stat('/etc/hostname');
      s.close();
    }
    files.close();
    const deadline = Date.now() + 10_000;
    while ((openFds(pid) > before || forkfileChildren(pid).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.ok(openFds(pid) <= before, `daemon fds: ${before} before, ${openFds(pid)} after`);
    t.same(forkfileChildren(pid), [], 'every forkfile helper exited');
  });
});
