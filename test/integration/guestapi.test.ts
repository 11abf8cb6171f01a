/**
 * /dev/incus (guest API) in containers against a real daemon. The client is
 * the host's curl run inside the container's user and pid namespaces
 * (busybox has no HTTP client for unix sockets), reaching the socket through
 * the container's own /dev/incus mount (/proc/<init>/root/dev/incus/sock);
 * the daemon knows the caller only from SO_PEERCRED.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { getImageWithEtag, updateImage } from '../../lib/client/images';
import type { Image } from '../../lib/api/image';

interface Reply {
  status: number;
  body: string;
}

/** curl's output with `-w '\n%{http_code}'` split into body and status. */
function parseReply(out: string): Reply {
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

function curlArgs(sock: string, path: string): string[] {
  return ['curl', '-sS', '-w', '\n%{http_code}', '--unix-socket', sock, `http://guest${path}`];
}

/** GET `path` from inside the container whose init is `pid`. */
function guestGet(pid: number, path: string): Reply {
  const argv = ['-t', String(pid), '-U', '-p', '--', ...curlArgs(`/proc/${pid}/root/dev/incus/sock`, path)];
  const r = spawnSync('nsenter', argv, { encoding: 'utf8', timeout: 20_000 });
  return parseReply(r.stdout ?? '');
}

async function initPid(d: TestDaemon, name: string): Promise<number> {
  return (await d.client.getInstanceState(name)).pid;
}

async function cliOk(t: Test, d: TestDaemon, args: string[]): Promise<void> {
  const r = await d.cli(args);
  t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
}

t.test('a container reads its own user.* config, devices and meta-data; nobody else\'s', async (t) => {
  const d = await withDaemon(t);
  await cliOk(t, d, ['launch', 'busybox', 'c1', '-c', 'user.foo=bar', '-c', 'user.meta-data=answer: 42']);
  await cliOk(t, d, ['launch', 'busybox', 'c2', '-c', 'user.foo=other']);
  const p1 = await initPid(d, 'c1');
  const p2 = await initPid(d, 'c2');

  t.equal(d.attach('c1', ['test', '-S', '/dev/incus/sock']).code, 0, '/dev/incus/sock in c1');
  t.same(guestGet(p1, '/'), { status: 200, body: '["/1.0"]\n' });
  t.equal(d.attach('c1', ['test', '-S', '/dev/lxd/sock']).code, 0, '/dev/lxd/sock too, for LXD-era workloads');
  const lxdArgv = ['-t', String(p1), '-U', '-p', '--', ...curlArgs(`/proc/${p1}/root/dev/lxd/sock`, '/1.0/config/user.foo')];
  t.same(parseReply(spawnSync('nsenter', lxdArgv, { encoding: 'utf8', timeout: 20_000 }).stdout ?? ''), { status: 200, body: 'bar' }, 'the same API under /dev/lxd');
  const info = guestGet(p1, '/1.0');
  t.equal(info.status, 200);
  t.match(JSON.parse(info.body), { api_version: '1.0', instance_type: 'container', state: 'Started' });

  t.same(guestGet(p1, '/1.0/config/user.foo'), { status: 200, body: 'bar' });
  t.same(guestGet(p2, '/1.0/config/user.foo'), { status: 200, body: 'other' });
  const list = guestGet(p1, '/1.0/config');
  t.same(JSON.parse(list.body).sort(), ['/1.0/config/user.foo', '/1.0/config/user.meta-data']);
  t.same(guestGet(p1, '/1.0/config/limits.cpu'), { status: 403, body: 'not authorized\n' });
  t.same(guestGet(p1, '/1.0/config/user.nope'), { status: 404, body: 'not found\n' });
  t.same(guestGet(p1, '/1.0/meta-data'), { status: 200, body: '#cloud-config\ninstance-id: c1\nlocal-hostname: c1\nanswer: 42' });
  t.ok('root' in JSON.parse(guestGet(p1, '/1.0/devices').body), 'expanded devices (root from the profile)');
  t.same(guestGet(p1, '/1.0/images/abc/export'), { status: 403, body: 'not authorized\n' }, 'images need security.guestapi.images');

  await cliOk(t, d, ['config', 'set', 'c1', 'user.foo=changed']);
  t.same(guestGet(p1, '/1.0/config/user.foo'), { status: 200, body: 'changed' });
  t.same(guestGet(p2, '/1.0/config/user.foo'), { status: 200, body: 'other' }, 'c2 still sees only its own');

  // Images: with security.guestapi.images, and only public (or cached) ones.
  await cliOk(t, d, ['config', 'set', 'c1', 'security.guestapi.images=true']);
  const img = (await d.client.getImages(1)).find((i): i is Image => typeof i !== 'string' && i.aliases.some((a) => a.name === 'busybox'))!;
  t.equal(guestGet(p1, `/1.0/images/${img.fingerprint}/export`).status, 404, 'a private image is not found');
  const { value, etag } = await getImageWithEtag(d.client, img.fingerprint);
  await updateImage(d.client, img.fingerprint, { ...value, public: true }, { etag });
  t.equal(guestGet(p1, `/1.0/images/${img.fingerprint.slice(0, 12)}/export`).status, 404, 'the whole fingerprint is needed');
  const argv = ['-t', String(p1), '-U', '-p', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}'];
  const dl = spawnSync('nsenter', [...argv, '--unix-socket', `/proc/${p1}/root/dev/incus/sock`, `http://guest/1.0/images/${img.fingerprint}/export`], { encoding: 'utf8' });
  const [code, size] = dl.stdout.split(' ').map(Number);
  t.equal(code, 200, 'a public image is served');
  t.ok(size >= img.size, `whole (${size} bytes for an image of ${img.size})`);

  // A process on the host, not in any container.
  const host = spawnSync('curl', curlArgs(join(d.dir, 'guestapi', 'sock'), '/1.0/config/user.foo').slice(1), { encoding: 'utf8' });
  t.same(parseReply(host.stdout), { status: 500, body: 'pid not in container?\n' }, 'host process refused');

  // A user other than the container's root (through a hard link it may reach: /proc/<init>/root is closed to it).
  const open = mkdtempSync(join(tmpdir(), 'guestapi-'));
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o755);
  linkSync(join(d.dir, 'guestapi', 'sock'), join(open, 'sock'));
  const user = ['-t', String(p1), '-U', '-p', '-S', '1000', '-G', '1000', '--', ...curlArgs(join(open, 'sock'), '/1.0')];
  t.same(parseReply(spawnSync('nsenter', user, { encoding: 'utf8' }).stdout), { status: 401, body: 'Access denied for non-root user\n' });

  // A restarted daemon's new socket shows through the running container's mount.
  await d.signal('SIGTERM');
  await d.start();
  t.same(guestGet(p1, '/1.0/config/user.foo'), { status: 200, body: 'changed' }, 'served again after a daemon restart');
});

t.test('config and device changes arrive on /1.0/events', async (t) => {
  const d = await withDaemon(t);
  await cliOk(t, d, ['launch', 'busybox', 'c1', '-c', 'user.foo=bar']);
  const pid = await initPid(d, 'c1');
  const sock = `/proc/${pid}/root/dev/incus/sock`;
  const proc = spawn('nsenter', ['-t', String(pid), '-U', '-p', '--', 'curl', '-sSN', '--unix-socket', sock, 'http://guest/1.0/events'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const lines = async (n: number): Promise<Record<string, unknown>[]> => {
    const deadline = Date.now() + 15_000;
    while (out.split('\n').filter(Boolean).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  // The listener is registered once the daemon has answered the request line.
  await new Promise((r) => setTimeout(r, 1_000));
  await cliOk(t, d, ['config', 'set', 'c1', 'user.foo=baz']);
  const [ev] = await lines(1);
  t.match(ev, { type: 'config', metadata: { key: 'user.foo', old_value: 'bar', value: 'baz' } });
  t.match(String(ev?.timestamp), /^\d{4}-\d\d-\d\dT/);
  await cliOk(t, d, ['config', 'set', 'c1', 'limits.memory=256MiB']);
  await cliOk(t, d, ['config', 'device', 'add', 'c1', 'null1', 'unix-char', 'path=/dev/null1', 'source=/dev/null']);
  const all = await lines(2);
  t.equal(all.length, 2, 'no event for a non-user key');
  t.match(all[1], { type: 'device', metadata: { action: 'added', name: 'null1', config: { type: 'unix-char', path: '/dev/null1' } } });
});

t.test('security.guestapi=false: the socket refuses the container at once, /dev/incus is gone after a restart', async (t) => {
  const d = await withDaemon(t);
  await cliOk(t, d, ['launch', 'busybox', 'c1', '-c', 'user.foo=bar']);
  const pid = await initPid(d, 'c1');
  t.same(guestGet(pid, '/1.0/config/user.foo'), { status: 200, body: 'bar' });
  await cliOk(t, d, ['config', 'set', 'c1', 'security.guestapi=false']);
  // The mount stays until the next start; the socket answers as Incus does.
  t.same(guestGet(pid, '/1.0/config/user.foo'), { status: 403, body: 'not authorized\n' });
  t.same(guestGet(pid, '/1.0/config'), { status: 403, body: 'not authorized\n' });
  await cliOk(t, d, ['restart', '-f', 'c1']);
  t.not(d.attach('c1', ['test', '-e', '/dev/incus']).code, 0, 'no /dev/incus after the restart');
  await cliOk(t, d, ['config', 'unset', 'c1', 'security.guestapi']);
  await cliOk(t, d, ['restart', '-f', 'c1']);
  t.equal(d.attach('c1', ['test', '-S', '/dev/incus/sock']).code, 0, 'back once unset');
  t.same(guestGet(await initPid(d, 'c1'), '/1.0/config/user.foo'), { status: 200, body: 'bar' });
});
