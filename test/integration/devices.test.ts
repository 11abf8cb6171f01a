/**
 * Devices on real containers: host directories shared with `disk` (owners
 * as an unprivileged container sees them, with and without shift), a host
 * block device's filesystem hot-plugged, a
 * `unix-char` node hot-plugged with its mode and owner and unplugged
 * again (host nodes named as Incus names them, two devices at one path,
 * a required=false source followed as it comes and goes), `proxy` relays
 * both ways (and across a daemon restart), the forkproxy relay itself on the host (udp, unix, a large stream), and the
 * 400s that name the device and key. GPU and TPM need hardware this host
 * may lack and are skipped with the reason.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomBytes, createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';
import { rawRequest } from './lib/http';
import { helperPath } from '../../lib/native';
import { forkproxyArgs } from '../../lib/native/forkproxy';

type Devices = Record<string, Record<string, string>>;

/** A host temp dir removed with the test. */
function tempDir(tt: { teardown(fn: () => unknown): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function patchDevices(d: TestDaemon, name: string, devices: Devices) {
  return rawRequest(d.socket, 'PATCH', `/1.0/instances/${name}`, JSON.stringify({ devices }));
}

/** PUTs the instance's own devices with `name` left out (PATCH merges, PUT replaces) and waits for the operation. */
async function putWithout(d: TestDaemon, inst: string, name: string): Promise<{ status: number; error: string }> {
  const cur = await d.client.getInstance(inst);
  const devices = { ...cur.devices };
  delete devices[name];
  const r = await rawRequest(d.socket, 'PUT', `/1.0/instances/${inst}`, JSON.stringify({ config: cur.config, devices, profiles: cur.profiles, description: cur.description }));
  if (r.status !== 202) return { status: r.status, error: String(r.body.error) };
  const id = (r.body.metadata as { id: string }).id;
  const w = await rawRequest(d.socket, 'GET', `/1.0/operations/${id}/wait`);
  const md = w.body.metadata as { status_code: number; err: string };
  return { status: md.status_code === 200 ? 200 : 400, error: md.err };
}

/** A free TCP port on the loopback. */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function httpBody(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** Retries until fn stops throwing (a listener may take a moment), at most ~5 s. */
async function eventually<T>(fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

/** lxc-attach without blocking the event loop (the test's own servers must answer meanwhile). */
function lxcAttachAsync(incusDir: string, name: string, cmd: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('lxc-attach', ['-P', join(incusDir, 'containers'), '-n', name, '--', ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** The PID recorded in a device PID file ("PID STARTTIME"). */
function pidFromFile(path: string): number {
  return Number(readFileSync(path, 'utf8').split(' ')[0]);
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== undefined;
  } catch {
    return false;
  }
}

t.test('disk: a host directory shared into an unprivileged container', async (t) => {
  const d = await withDaemon(t);
  const share = tempDir(t, 'incus-disk-');
  chmodSync(share, 0o755);
  writeFileSync(join(share, 'hello'), 'from the host\n');
  chownSync(join(share, 'hello'), 0, 0);
  const devices: Devices = {
    plain: { type: 'disk', source: share, path: '/mnt/plain' },
    shifted: { type: 'disk', source: share, path: '/mnt/shifted', shift: 'true' },
    ro: { type: 'disk', source: share, path: '/mnt/ro', readonly: 'true', shift: 'true' },
    gone: { type: 'disk', source: join(share, 'no-such-dir'), path: '/mnt/gone', required: 'false' },
  };
  t.equal((await d.cli(['init', 'busybox', 'd1'])).code, 0);
  const mk = await patchDevices(d, 'd1', devices);
  t.equal(mk.status, 200, JSON.stringify(mk.body));
  const st = await d.cli(['start', 'd1']);
  t.equal(st.code, 0, `starts with a missing required=false source: ${st.stderr}`);
  t.match(lxcAttach(d.dir, 'd1', ['cat', '/proc/self/uid_map']).out, /^\s*0\s+[1-9]\d*\s+\d+/, 'the container is unprivileged');

  t.equal(lxcAttach(d.dir, 'd1', ['cat', '/mnt/plain/hello']).out, 'from the host\n', 'the host file is visible inside');
  t.equal(lxcAttach(d.dir, 'd1', ['stat', '-c', '%u:%g', '/mnt/plain/hello']).out.trim(), '65534:65534', 'without shift host root shows as nobody');
  t.equal(lxcAttach(d.dir, 'd1', ['stat', '-c', '%u:%g', '/mnt/shifted/hello']).out.trim(), '0:0', 'with shift host root shows as root');

  const w = lxcAttach(d.dir, 'd1', ['sh', '-c', 'echo from the container > /mnt/shifted/made-inside && chown 7:8 /mnt/shifted/made-inside']);
  t.equal(w.code, 0, w.err);
  t.equal(readFileSync(join(share, 'made-inside'), 'utf8'), 'from the container\n', 'a file written inside is visible on the host');
  const own = statSync(join(share, 'made-inside'));
  t.same([own.uid, own.gid], [7, 8], 'idmapped: ids written inside land unshifted on the host');
  writeFileSync(join(share, 'late'), 'written later\n');
  t.equal(lxcAttach(d.dir, 'd1', ['cat', '/mnt/plain/late']).out, 'written later\n', 'a host write is visible inside');

  t.not(lxcAttach(d.dir, 'd1', ['touch', '/mnt/ro/x']).code, 0, 'readonly refuses writes');
  t.notOk(existsSync(join(share, 'x')));
  t.not(lxcAttach(d.dir, 'd1', ['test', '-e', '/mnt/gone/anything']).code, 0, 'the missing source was skipped');

  // Hot-plug into the running container, then unplug.
  const add = await patchDevices(d, 'd1', { hot: { type: 'disk', source: share, path: '/srv/hot', shift: 'true' } });
  t.equal(add.status, 200, JSON.stringify(add.body));
  t.equal(lxcAttach(d.dir, 'd1', ['cat', '/srv/hot/hello']).out, 'from the host\n', 'hot-plugged disk visible');
  t.equal(lxcAttach(d.dir, 'd1', ['stat', '-c', '%u', '/srv/hot/hello']).out.trim(), '0', 'hot-plugged with shift');
  const rm = await putWithout(d, 'd1', 'hot');
  t.equal(rm.status, 200, rm.error);
  t.not(lxcAttach(d.dir, 'd1', ['test', '-e', '/srv/hot/hello']).code, 0, 'unplugged');
  t.equal((await d.cli(['delete', '-f', 'd1'])).code, 0);
});

const haveLoop = spawnSync('losetup', ['--version']).status === 0 && spawnSync('mkfs.ext4', ['-V']).status === 0;

/** The entries of the instance's host devices folder ([] when it does not exist). */
const hostDevices = (d: TestDaemon, name: string): string[] => (existsSync(join(d.dir, 'devices', name)) ? readdirSync(join(d.dir, 'devices', name)) : []);

t.test('disk: a host block device (a loop device with ext4) hot-plugged, kept across a restart, unplugged', { skip: haveLoop ? false : 'losetup or mkfs.ext4 missing' }, async (t) => {
  const d = await withDaemon(t);
  const dir = tempDir(t, 'incus-blockdisk-');
  const img = join(dir, 'fs.img');
  const content = join(dir, 'content');
  mkdirSync(content);
  writeFileSync(join(content, 'hello'), 'on the block device\n');
  t.equal(spawnSync('truncate', ['-s', '32M', img]).status, 0);
  t.equal(spawnSync('mkfs.ext4', ['-q', '-F', '-d', content, img]).status, 0, 'mkfs.ext4');
  const loop = spawnSync('losetup', ['--show', '-f', img], { encoding: 'utf8' }).stdout.trim();
  t.match(loop, /^\/dev\/loop\d+$/, 'a loop device');
  t.teardown(() => spawnSync('losetup', ['-d', loop]));

  t.equal((await d.cli(['launch', 'busybox', 'b1'])).code, 0);
  const add = await d.cli(['config', 'device', 'add', 'b1', 'mnt', 'disk', `source=${loop}`, 'path=/mnt', 'readonly=true']);
  t.equal(add.code, 0, add.stderr);
  t.equal(lxcAttach(d.dir, 'b1', ['cat', '/mnt/hello']).out, 'on the block device\n', "the device's filesystem is mounted inside");
  t.match(lxcAttach(d.dir, 'b1', ['cat', '/proc/self/mountinfo']).out, / \/mnt ro,/, 'read-only');
  t.same(hostDevices(d, 'b1'), [], 'no staging mount left on the host');
  t.equal((await d.cli(['restart', 'b1', '--force'])).code, 0);
  t.equal(lxcAttach(d.dir, 'b1', ['test', '-f', '/mnt/hello']).code, 0, 'mounted again at start');
  t.same(hostDevices(d, 'b1'), [], 'the staging mount went once the container ran');
  t.equal((await d.cli(['config', 'device', 'remove', 'b1', 'mnt'])).code, 0);
  t.not(lxcAttach(d.dir, 'b1', ['mountpoint', '/mnt']).code, 0, 'unplugged');
  t.equal((await d.cli(['delete', '-f', 'b1'])).code, 0);
});

t.test('unix-char: hot-plug with mode and owner, then unplug', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'u1'])).code, 0);
  const add = await patchDevices(d, 'u1', { zero: { type: 'unix-char', source: '/dev/zero', path: '/dev/hot/myzero', mode: '0620', uid: '7', gid: '8' } });
  t.equal(add.status, 200, JSON.stringify(add.body));
  const st = lxcAttach(d.dir, 'u1', ['stat', '-c', '%a %u %g %t:%T %F', '/dev/hot/myzero']);
  t.equal(st.out.trim(), '620 7 8 1:5 character special file', `node appears with mode and owner (${st.err})`);
  t.equal(lxcAttach(d.dir, 'u1', ['sh', '-c', 'head -c 4 /dev/hot/myzero | od -An -tx1']).out.trim(), '00 00 00 00', 'the device reads');
  const nodes = readdirSync(join(d.dir, 'devices', 'u1'));
  t.equal(nodes.length, 1, 'one host node');
  const hostNode = lstatSync(join(d.dir, 'devices', 'u1', nodes[0]));
  t.ok(hostNode.isCharacterDevice() && hostNode.uid > 7, `host node owned by the shifted uid (${hostNode.uid})`);

  const rm = await putWithout(d, 'u1', 'zero');
  t.equal(rm.status, 200, rm.error);
  t.not(lxcAttach(d.dir, 'u1', ['test', '-e', '/dev/hot/myzero']).code, 0, 'node gone after unplug');
  t.equal(lxcAttach(d.dir, 'u1', ['sh', '-c', 'head -c 1 /dev/zero | od -An -tx1']).out.trim(), '00', "the container's own /dev/zero still works");
  t.same(readdirSync(join(d.dir, 'devices', 'u1')), [], 'host node removed');

  // Cold-plugged by major/minor, present from the start.
  const cold = await patchDevices(d, 'u1', { null2: { type: 'unix-char', path: '/dev/null2', major: '1', minor: '3', mode: '0666' } });
  t.equal(cold.status, 200);
  t.equal((await d.cli(['restart', 'u1', '--force'])).code, 0);
  t.equal(lxcAttach(d.dir, 'u1', ['stat', '-c', '%a %t:%T', '/dev/null2']).out.trim(), '666 1:3', 'node created at start');
  t.equal(lxcAttach(d.dir, 'u1', ['sh', '-c', 'echo x > /dev/null2']).code, 0);

  // A failed hot-plug changes nothing.
  const bad = await patchDevices(d, 'u1', { missing: { type: 'unix-char', source: '/dev/no-such-device', path: '/dev/nsd' } });
  t.equal(bad.status, 400);
  t.match(String(bad.body.error), /"missing"/, 'the error names the device');
  t.notOk('missing' in (await d.client.getInstance('u1')).devices, 'the device was not recorded');
  t.equal((await d.cli(['delete', '-f', 'u1'])).code, 0);

  // A required device whose source is missing fails the start, naming the device.
  t.equal((await d.cli(['init', 'busybox', 'u2'])).code, 0);
  t.equal((await patchDevices(d, 'u2', { need: { type: 'unix-char', source: '/dev/no-such-device' } })).status, 200, 'a stopped instance takes it');
  const start = await d.cli(['start', 'u2']);
  t.not(start.code, 0);
  t.match(start.stderr, /Failed to start device "need"/, start.stderr);
  t.equal((await d.client.getInstanceState('u2')).status, 'Stopped');
});

t.test('unix-char: Incus host names, two devices at one path, required=false follows its source', async (t) => {
  const d = await withDaemon(t);
  const dir = tempDir(t, 'incus-unix-');
  const src = join(dir, 'sub', 'node');
  const mknod = (): void => {
    t.equal(spawnSync('mknod', [src, 'c', '1', '5']).status, 0, 'source node made');
  };
  t.equal((await d.cli(['launch', 'busybox', 'w1'])).code, 0);
  const devDir = join(d.dir, 'devices', 'w1');
  t.equal((await patchDevices(d, 'w1', { 'z-1': { type: 'unix-char', path: '/tmp/z', major: '1', minor: '5' } })).status, 200);
  t.ok(existsSync(join(devDir, 'unix.z--1.tmp-z')), 'named unix.<name>.<path> with Incus\'s "-" encoding');
  t.equal((await patchDevices(d, 'w1', { 'z-2': { type: 'unix-char', path: '/tmp/z', major: '1', minor: '3', mode: '0600' } })).status, 200);
  t.equal(lxcAttach(d.dir, 'w1', ['stat', '-c', '%a %T', '/tmp/z']).out.trim(), '660 5', 'the first device keeps the path');
  t.equal(statSync(join(devDir, 'unix.z--2.tmp-z')).mode & 0o777, 0o600, 'the second still gets its host node');
  t.equal((await putWithout(d, 'w1', 'z-2')).status, 200);
  t.equal(lxcAttach(d.dir, 'w1', ['stat', '-c', '%T', '/tmp/z']).out.trim(), '5', 'removing the second leaves the first mounted');
  t.notOk(existsSync(join(devDir, 'unix.z--2.tmp-z')), 'its host node is gone');

  t.equal((await patchDevices(d, 'w1', { dyn: { type: 'unix-char', source: src, path: '/tmp/dyn', required: 'false' } })).status, 200, 'a missing source with required=false');
  t.not(lxcAttach(d.dir, 'w1', ['test', '-e', '/tmp/dyn']).code, 0, 'nothing inside yet');
  mkdirSync(join(dir, 'sub'));
  mknod();
  await eventually(async () => {
    if (lxcAttach(d.dir, 'w1', ['stat', '-c', '%T', '/tmp/dyn']).out.trim() !== '5') throw new Error('not plugged yet');
  });
  t.pass('plugged once the source appeared (in a directory made later)');
  rmSync(src);
  await eventually(async () => {
    if (existsSync(join(devDir, 'unix.dyn.tmp-dyn'))) throw new Error('not unplugged yet');
  });
  t.not(lxcAttach(d.dir, 'w1', ['test', '-e', '/tmp/dyn']).code, 0, 'unplugged once the source went');
  await d.signal('SIGTERM');
  await d.start();
  mknod();
  await eventually(async () => {
    if (lxcAttach(d.dir, 'w1', ['stat', '-c', '%T', '/tmp/dyn']).out.trim() !== '5') throw new Error('not plugged yet');
  });
  t.pass('followed again after a daemon restart');
  t.equal((await d.cli(['delete', '-f', 'w1'])).code, 0);
});

t.test('proxy: host to container and back, across a daemon restart', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'p1'])).code, 0);
  const srv = lxcAttach(d.dir, 'p1', ['sh', '-c', 'mkdir -p /srv && echo hello-from-container > /srv/index.html && httpd -p 127.0.0.1:8080 -h /srv']);
  t.equal(srv.code, 0, `httpd started inside (${srv.err})`);

  const hostPort = await freePort();
  const add = await patchDevices(d, 'p1', { web: { type: 'proxy', listen: `tcp:127.0.0.1:${hostPort}`, connect: 'tcp:127.0.0.1:8080' } });
  t.equal(add.status, 200, JSON.stringify(add.body));
  t.equal(await eventually(() => httpBody(`http://127.0.0.1:${hostPort}/index.html`)), 'hello-from-container\n', 'host to container');

  // The reverse: a listener on the host loopback, reached from inside.
  const back = createHttpServer((_req, res) => res.end('hello-from-host\n'));
  await new Promise<void>((r) => back.listen(0, '127.0.0.1', r));
  t.teardown(() => back.close());
  const backPort = (back.address() as AddressInfo).port;
  const rev = await patchDevices(d, 'p1', { back: { type: 'proxy', bind: 'instance', listen: 'tcp:127.0.0.1:9090', connect: `tcp:127.0.0.1:${backPort}` } });
  t.equal(rev.status, 200, JSON.stringify(rev.body));
  const got = await lxcAttachAsync(d.dir, 'p1', ['wget', '-qO-', 'http://127.0.0.1:9090/']);
  t.equal(got.out, 'hello-from-host\n', `container to host (${got.err})`);

  // A listener that cannot bind is refused and not recorded.
  const clash = await patchDevices(d, 'p1', { clash: { type: 'proxy', listen: `tcp:127.0.0.1:${hostPort}`, connect: 'tcp:127.0.0.1:8080' } });
  t.equal(clash.status, 400);
  t.match(String(clash.body.error), /Failed to add device "clash".*Address already in use/, String(clash.body.error));
  t.notOk('clash' in (await d.client.getInstance('p1')).devices, 'not recorded');
  t.notOk(existsSync(join(d.dir, 'devices', 'p1', 'proxy.clash')), 'no PID file left');

  // The relay outlives a daemon restart and is found again by its PID file.
  const pidFile = join(d.dir, 'devices', 'p1', 'proxy.web');
  const relay = pidFromFile(pidFile);
  t.ok(alive(relay), 'relay running');
  await d.signal('SIGTERM');
  await d.start();
  t.equal(pidFromFile(pidFile), relay, 'the same relay is adopted after a restart');
  t.equal(await httpBody(`http://127.0.0.1:${hostPort}/index.html`), 'hello-from-container\n');

  // A relay that died while the daemon was down is started again.
  await d.signal('SIGTERM');
  process.kill(relay, 'SIGKILL');
  await eventually(async () => {
    if (alive(relay)) throw new Error('still alive');
  });
  await d.start();
  await eventually(async () => {
    if (pidFromFile(pidFile) === relay) throw new Error('not restarted yet');
  });
  t.equal(await eventually(() => httpBody(`http://127.0.0.1:${hostPort}/index.html`)), 'hello-from-container\n', 'restarted relay forwards');

  // Unplug stops the relay; stopping the container stops the rest.
  const newRelay = pidFromFile(pidFile);
  t.equal((await putWithout(d, 'p1', 'web')).status, 200);
  t.notOk(alive(newRelay), 'relay stopped on unplug');
  t.notOk(existsSync(pidFile), 'PID file removed');
  const backRelay = pidFromFile(join(d.dir, 'devices', 'p1', 'proxy.back'));
  t.equal((await d.cli(['stop', 'p1', '--force'])).code, 0);
  await eventually(async () => {
    if (alive(backRelay)) throw new Error('still alive');
  });
  t.pass('relay gone once the container stopped');
  t.equal((await d.cli(['delete', '-f', 'p1'])).code, 0);
});

t.test('forkproxy relay on the host: udp, unix to tcp, tcp to udp, a large stream', async (t) => {
  const dir = tempDir(t, 'incus-forkproxy-');
  const echo = createNetServer((c) => c.pipe(c));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.teardown(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;
  const udp = createSocket('udp4');
  udp.on('message', (m, rinfo) => udp.send(Buffer.from(m.toString().toUpperCase()), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.teardown(() => udp.close());
  const [tcpIn, udpIn, tcpToUdp] = [await freePort(), await freePort(), await freePort()];
  const sock = join(dir, 'relay.sock');
  const args = forkproxyArgs({
    listenPid: 0,
    connectPid: 0,
    logPath: join(dir, 'relay.log'),
    uid: 0,
    gid: 0,
    mode: 0o600,
    securityUid: 0,
    securityGid: 0,
    pairs: [
      [`unix:${sock}`, `tcp:127.0.0.1:${echoPort}`],
      [`tcp:127.0.0.1:${tcpIn}`, `tcp:127.0.0.1:${echoPort}`],
      [`udp:127.0.0.1:${udpIn}`, `udp:127.0.0.1:${udp.address().port}`],
      [`tcp:127.0.0.1:${tcpToUdp}`, `udp:127.0.0.1:${udp.address().port}`],
    ],
  });
  const child = spawn(helperPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const ready = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.once('exit', () => resolve(out));
  });
  t.equal(ready, 'ready\n');
  t.equal((statSync(sock).mode & 0o777).toString(8), '600', 'unix socket mode applied');

  for (const target of [{ path: sock }, { host: '127.0.0.1', port: tcpIn }]) {
    const data = randomBytes(8 * 1024 * 1024);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const c = netConnect(target as { path: string });
      const parts: Buffer[] = [];
      c.on('data', (b: Buffer) => parts.push(b));
      c.on('end', () => resolve(Buffer.concat(parts)));
      c.on('error', reject);
      c.end(data);
    });
    const h = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    t.equal(h(got), h(data), `8 MiB echoed intact through ${'path' in target ? 'unix' : 'tcp'}`);
  }

  const client = createSocket('udp4');
  t.teardown(() => client.close());
  const reply = await new Promise<string>((resolve) => {
    client.once('message', (m) => resolve(m.toString()));
    client.send('ping', udpIn, '127.0.0.1');
  });
  t.equal(reply, 'PING', 'udp datagram relayed and answered');

  const viaStream = await new Promise<string>((resolve, reject) => {
    const c = netConnect({ host: '127.0.0.1', port: tcpToUdp });
    c.on('data', (b: Buffer) => {
      resolve(b.toString());
      c.destroy();
    });
    c.on('error', reject);
    c.write('pong');
  });
  t.equal(viaStream, 'PONG', 'a tcp stream feeds a udp target and gets its answer');

  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  t.equal(child.exitCode, 0, 'clean exit on SIGTERM');
  t.notOk(existsSync(sock), 'host socket file removed at exit');
});

t.test('invalid devices: 400 naming the device and key, nothing changed', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['create', 'busybox', 'v1'])).code, 0);
  const cases: [Record<string, string>, RegExp][] = [
    [{ type: 'unix-char', path: '/dev/x', mode: '999' }, /"mode"/],
    [{ type: 'unix-char', path: '/dev/x', major: '1' }, /"major" and "minor"/],
    [{ type: 'unix-char' }, /"source" or "path"/],
    [{ type: 'proxy', listen: 'tcp:127.0.0.1:80' }, /"connect"/],
    [{ type: 'proxy', listen: 'sctp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80' }, /"listen".*Unknown protocol/],
    [{ type: 'proxy', listen: 'tcp:127.0.0.1:80-81', connect: 'tcp:127.0.0.1:80-82' }, /port/],
    [{ type: 'proxy', listen: 'udp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80' }, /udp to tcp/],
    [{ type: 'proxy', listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80', mode: '0600' }, /"mode"/],
    [{ type: 'proxy', listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80', bind: 'sideways' }, /"bind"/],
    [{ type: 'disk', source: 'relative/dir', path: '/mnt' }, /"source"/],
    [{ type: 'disk', source: '/tmp', path: '/mnt', shift: 'perhaps' }, /"shift"/],
    [{ type: 'disk', source: '/tmp', path: '/mnt', bogus: '1' }, /Unknown key "bogus"/],
    [{ type: 'gpu', gputype: 'mdev' }, /"gputype"/],
    [{ type: 'gpu', pci: '0000:01:00.0', id: '0' }, /"id"/],
    [{ type: 'tpm', path: '/dev/tpm0' }, /"pathrm"/],
  ];
  for (const [dev, why] of cases) {
    const r = await patchDevices(d, 'v1', { baddev: dev });
    t.equal(r.status, 400, `${JSON.stringify(dev)} refused`);
    t.match(String(r.body.error), /"baddev"/, 'names the device');
    t.match(String(r.body.error), why, `names the key: ${String(r.body.error)}`);
  }
  t.notOk('baddev' in (await d.client.getInstance('v1')).devices, 'nothing changed');
});

const hasGpu = existsSync('/dev/dri') || readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));
t.test('gpu: the host cards appear inside', { skip: hasGpu ? false : 'no GPU on this host (/dev/dri and /dev/nvidia* absent); config generation is unit-tested' }, async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'g1'])).code, 0);
  const add = await patchDevices(d, 'g1', { gpu: { type: 'gpu', mode: '0666' } });
  t.equal(add.status, 200, JSON.stringify(add.body));
  const inside = lxcAttach(d.dir, 'g1', ['sh', '-c', 'ls /dev/dri /dev/nvidia* 2>/dev/null']).out;
  t.match(inside, /card\d|nvidia\d/, 'GPU nodes inside');
  t.equal((await d.cli(['delete', '-f', 'g1'])).code, 0);
});

const tpmSkip = !existsSync('/dev/vtpmx') ? 'the kernel has no vTPM proxy (/dev/vtpmx, CONFIG_TCG_VTPM_PROXY)' : !['/usr/bin/swtpm', '/bin/swtpm'].some(existsSync) ? 'swtpm is not installed' : false;
t.test('tpm: swtpm nodes appear inside', { skip: tpmSkip }, async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['create', 'busybox', 't1'])).code, 0);
  const add = await patchDevices(d, 't1', { tpm: { type: 'tpm', path: '/dev/tpm0', pathrm: '/dev/tpmrm0' } });
  t.equal(add.status, 200, JSON.stringify(add.body));
  t.equal((await d.cli(['start', 't1'])).code, 0);
  t.match(lxcAttach(d.dir, 't1', ['ls', '/dev/tpm0', '/dev/tpmrm0']).out, /tpm0[\s\S]*tpmrm0/);
  t.equal((await d.cli(['delete', '-f', 't1'])).code, 0);
});
