/**
 * Remote images: a simplestreams tree served by the test on 127.0.0.1
 * (remote add, image list, launch with download/verify/cache, refresh and
 * auto-update to a new build, cache expiry), broken streams leaving nothing
 * behind, and a daemon serving its public images as a stream (read over its
 * socket, and pulled by a second daemon).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Image } from '../../lib/api/image';
import { buildBusyboxImage } from '../../lib/image-builder/busybox';
import { addEntry } from '../../lib/simplestreams/build';
import { productsToImages } from '../../lib/simplestreams/products';
import { addImageToTree } from '../../lib/simplestreams/tree';
import type { Products, Stream } from '../../lib/simplestreams/types';
import { lxcAttach } from './lib/attach';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { serveDirectory } from './lib/static-server';

const haveSquashfs = spawnSync('mksquashfs', ['-version']).status === 0;

const sha = (...files: string[]): string => {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
};
const sh = (cmd: string, args: string[]): void => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
};

/** A busybox build with its own creation date (so its bytes, hence fingerprint, are its own). */
async function build(dir: string, name: string, creationDate: number): Promise<string> {
  return (await buildBusyboxImage({ output: join(dir, `${name}.tar.xz`), creationDate })).path;
}

/** The same image split: metadata tarball + squashfs rootfs. */
function split(dir: string, unified: string, name: string): { meta: string; root: string } {
  const stage = join(dir, `${name}-stage`);
  mkdirSync(stage);
  sh('tar', ['-xf', unified, '-C', stage]);
  const meta = join(dir, `${name}.meta.tar.xz`);
  const root = join(dir, `${name}.squashfs`);
  sh('tar', ['-cJf', meta, '-C', stage, 'metadata.yaml', 'templates']);
  sh('mksquashfs', [join(stage, 'rootfs'), root, '-noappend', '-quiet', '-all-root']);
  return { meta, root };
}

/** The CLI reads its remotes from here (never the user's, never images.linuxcontainers.org). */
function useConfigDir(d: TestDaemon): void {
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
}

async function waitOp(d: TestDaemon, reply: { status: number; body: Record<string, unknown> }): Promise<{ status: string; err: string; metadata: Record<string, unknown> | null }> {
  if (reply.status !== 202) throw new Error(`expected 202, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  const done = await rawRequest(d.socket, 'GET', `${String(reply.body.operation)}/wait?timeout=120`);
  return done.body.metadata as { status: string; err: string; metadata: Record<string, unknown> | null };
}

const images = async (d: TestDaemon): Promise<Image[]> => d.client.getImages(1);

/** What the image store holds on disk (files, any leftovers included). */
const storeFiles = (d: TestDaemon): string[] => readdirSync(join(d.dir, 'images')).sort();

async function setServerConfig(d: TestDaemon, config: Record<string, string>): Promise<void> {
  const r = await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config }));
  if (r.status !== 200) throw new Error(`PATCH /1.0: ${JSON.stringify(r.body)}`);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

t.test('simplestreams remote: list, launch caches, refresh and auto-update to a new build, expiry', { skip: haveSquashfs ? false : 'squashfs-tools is not installed' }, async (t) => {
  const d = await withDaemon(t);
  useConfigDir(d);
  const src = join(d.dir, 'src');
  const tree = join(d.dir, 'tree');
  mkdirSync(src);
  const a = await build(src, 'a', 1_700_000_000);
  const b = await build(src, 'b', 1_700_090_000);
  const c = await build(src, 'c', 1_700_180_000);
  const s = split(src, a, 'as');
  const fpA = await addImageToTree(tree, a, undefined, { productName: 'busybox', aliases: ['busybox'], noDefaultAlias: true });
  const fpS = await addImageToTree(tree, s.meta, s.root, { productName: 'bbsplit', aliases: ['bbsplit'], noDefaultAlias: true });
  t.equal(fpA, sha(a));
  t.equal(fpS, sha(s.meta, s.root));
  const srv = await serveDirectory(t, tree);

  t.equal((await d.cli(['remote', 'add', 'ss', srv.url, '--protocol', 'simplestreams'])).code, 0);
  const remotes = JSON.parse((await d.cli(['remote', 'list', '-f', 'json'])).stdout) as Record<string, { Addr: string; Protocol: string; Public: boolean }>;
  t.same(remotes.ss, { ...remotes.ss, Addr: srv.url, Protocol: 'simplestreams', Public: true });
  t.ok(remotes.images && remotes.local, 'default remotes listed');

  const listed = JSON.parse((await d.cli(['image', 'list', 'ss:', '-f', 'json'])).stdout) as Image[];
  t.same(listed.map((i) => i.fingerprint).sort(), [fpA, fpS].sort(), 'image list REMOTE: reads the stream');
  const info = await d.cli(['image', 'info', 'ss:bbsplit']);
  t.match(info.stdout, `Fingerprint: ${fpS}`);

  const l1 = await d.cli(['launch', 'ss:busybox', 'c1']);
  t.equal(l1.code, 0, l1.stderr);
  const cached = (await images(d)).find((i) => i.fingerprint === fpA);
  t.ok(cached, 'downloaded under its fingerprint');
  t.equal(cached?.cached, true, 'cached=true when a launch brought it');
  t.equal(cached?.auto_update, true, 'auto_update from images.auto_update_cached');
  t.same(cached?.update_source, { alias: 'busybox', certificate: '', protocol: 'simplestreams', server: srv.url, image_type: 'container' });
  t.equal(lxcAttach(d.dir, 'c1', ['hostname']).out.trim(), 'c1', 'templates of the downloaded image rendered');

  const l2 = await d.cli(['launch', 'ss:bbsplit', 'c2']);
  t.equal(l2.code, 0, l2.stderr);
  t.ok(existsSync(join(d.dir, 'images', `${fpS}.rootfs`)), 'split image stored as metadata + rootfs');
  t.equal(lxcAttach(d.dir, 'c2', ['cat', '/etc/hostname']).out.trim(), 'c2');

  const fetches = srv.requests.filter((p) => p.startsWith('/images/')).length;
  t.equal((await d.cli(['launch', 'ss:busybox', 'c3'])).code, 0);
  t.equal(srv.requests.filter((p) => p.startsWith('/images/')).length, fetches, 'a second launch uses the cache');

  // A new build appears in the stream: refresh replaces the cached image.
  const fpB = await addImageToTree(tree, b, undefined, { productName: 'busybox' });
  const r = await d.cli(['image', 'refresh', fpA.slice(0, 12)]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'Image refreshed successfully!');
  let now = await images(d);
  t.notOk(now.some((i) => i.fingerprint === fpA), 'old build gone from the DB');
  t.notOk(existsSync(join(d.dir, 'images', fpA)), 'and from the store');
  const newer = now.find((i) => i.fingerprint === fpB);
  t.equal(newer?.cached, true, 'the new build keeps the cached flag');
  t.equal(newer?.auto_update, true);
  t.match((await d.cli(['image', 'refresh', fpB])).stdout, 'Image already up to date.');

  // Auto-update on a short interval (hours; fractions accepted) picks up the next build by itself.
  const fpC = await addImageToTree(tree, c, undefined, { productName: 'busybox' });
  await setServerConfig(d, { 'images.auto_update_interval': '0.0003' });
  await until('auto-update to build C', async () => ((await images(d)).some((i) => i.fingerprint === fpC) ? true : undefined));
  await until('build B removed', async () => ((await images(d)).some((i) => i.fingerprint === fpB) ? undefined : true));
  await setServerConfig(d, { 'images.auto_update_interval': '0' });
  t.pass('auto-update replaced the cached image with the newest build');

  // Cache expiry: cached images unused for longer than images.remote_cache_expiry (days) are deleted.
  now = await images(d);
  t.ok(now.some((i) => i.cached), 'cached images present');
  await setServerConfig(d, { 'images.auto_update_interval': '0', 'images.remote_cache_expiry': '0.00002' });
  await until('cached images pruned', async () => ((await images(d)).some((i) => i.cached) ? undefined : true));
  t.ok((await images(d)).some((i) => i.aliases.some((al) => al.name === 'busybox')), 'images not from the cache are kept');
  t.same(storeFiles(d).filter((f) => f.includes(fpC) || f.includes(fpS)), [], 'pruned files removed');
  for (const n of ['c1', 'c2', 'c3']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});

t.test('broken streams: clear errors and nothing left in the store or the DB', async (t) => {
  const d = await withDaemon(t);
  useConfigDir(d);
  const src = join(d.dir, 'src');
  const tree = join(d.dir, 'tree');
  mkdirSync(src);
  const good = await build(src, 'good', 1_700_000_000);
  const bad = await build(src, 'bad', 1_700_090_000);
  const third = await build(src, 'third', 1_700_180_000);
  await addImageToTree(tree, good, undefined, { productName: 'good', aliases: ['good'], noDefaultAlias: true });
  await addImageToTree(tree, bad, undefined, { productName: 'badsum', aliases: ['badsum'], noDefaultAlias: true });
  const productsFile = join(tree, 'streams/v1/images.json');
  const products = JSON.parse(readFileSync(productsFile, 'utf8')) as Products;
  // Wrong checksum in the stream for "badsum".
  for (const v of Object.values(products.products.badsum?.versions ?? {})) {
    for (const item of Object.values(v.items)) item.sha256 = 'f'.repeat(64);
  }
  // A file whose bytes no longer match the stream ("corrupt").
  const corrupt = join(tree, 'images', 'corrupt.tar.xz');
  writeFileSync(corrupt, Buffer.concat([readFileSync(third).subarray(0, 1000), Buffer.from('garbage')]));
  const entry = (name: string, file: string, sha256: string, size: number): void =>
    addEntry(products, {
      productName: name,
      aliases: [name],
      os: 'busybox',
      release: name,
      variant: 'default',
      arch: 'x86_64',
      versionName: '202401010000',
      meta: { path: `images/${file}`, sha256, size },
    });
  entry('corrupt', 'corrupt.tar.xz', sha(third), readFileSync(third).length);
  // Right checksum, but not a tarball any compression tar knows ("unknown compression").
  const odd = join(tree, 'images', 'odd.tar.lz4');
  writeFileSync(odd, Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), Buffer.alloc(4096, 7)]));
  entry('oddcomp', 'odd.tar.lz4', sha(odd), readFileSync(odd).length);
  entry('missing', 'missing.tar.xz', 'e'.repeat(64), 100);
  writeFileSync(productsFile, JSON.stringify(products));
  const index = JSON.parse(readFileSync(join(tree, 'streams/v1/index.json'), 'utf8')) as Stream;
  (index.index.images as { products: string[] }).products = Object.keys(products.products);
  writeFileSync(join(tree, 'streams/v1/index.json'), JSON.stringify(index));
  t.equal(productsToImages(products).images.length, 5);
  const srv = await serveDirectory(t, tree);
  t.equal((await d.cli(['remote', 'add', 'ss', srv.url, '--protocol', 'simplestreams'])).code, 0);

  const before = { files: storeFiles(d), images: (await images(d)).map((i) => i.fingerprint) };
  const pull = async (alias: string, extra: Record<string, unknown> = {}) =>
    rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({ source: { type: 'image', mode: 'pull', server: srv.url, protocol: 'simplestreams', alias }, ...extra }));
  const cases: [string, RegExp][] = [
    ['badsum', /Hash mismatch for .*: [0-9a-f]{64} != f{64}/],
    ['corrupt', /Hash mismatch/],
    ['oddcomp', /Invalid image file/],
    ['missing', /Unable to fetch .*missing\.tar\.xz: resource not found/],
  ];
  for (const [alias, msg] of cases) {
    const op = await waitOp(d, await pull(alias));
    t.equal(op.status, 'Failure', `${alias}: the download fails`);
    t.match(op.err, msg, `${alias}: ${op.err}`);
    t.same(storeFiles(d), before.files, `${alias}: no file left in the store`);
    t.same((await images(d)).map((i) => i.fingerprint), before.images, `${alias}: no image row left`);
  }
  const l = await d.cli(['launch', 'ss:badsum', 'x1']);
  t.not(l.code, 0, 'launch from a bad stream fails');
  t.match(l.stderr, /Hash mismatch/);
  t.same(await d.client.getInstances(0), [], 'and creates no instance');

  const dup = await pull('good', { aliases: [{ name: 'busybox' }] });
  t.equal(dup.status, 409, 'an alias that exists: 409 before anything is downloaded');
  t.match(String(dup.body.error), /Alias "busybox" already exists/);
  const bad1 = await rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({ source: { type: 'image', server: 'http://images.example', protocol: 'simplestreams', alias: 'x' } }));
  t.equal(bad1.status, 400, 'plain http to a non-loopback host refused');
  const bad2 = await rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({ source: { type: 'image', server: srv.url, protocol: 'ftp', alias: 'x' } }));
  t.equal(bad2.status, 400);
  t.match(String(bad2.body.error), /Unsupported protocol: ftp/);
  const ok = await waitOp(d, await pull('good', { aliases: [{ name: 'mine' }] }));
  t.equal(ok.status, 'Success', ok.err);
  const mine = (await images(d)).find((i) => i.aliases.some((a) => a.name === 'mine'));
  t.equal(mine?.fingerprint, sha(good));
  t.equal(mine?.cached, false, 'an explicit pull is not a cache entry');
});

/** Forwards TCP on 127.0.0.1 to a daemon's Unix socket (the daemon has no TCP listener yet). */
async function tcpToUnix(t: { teardown(fn: () => unknown): void }, socketPath: string): Promise<string> {
  const open = new Set<import('node:net').Socket>();
  const server = createServer((c) => {
    const u = connect(socketPath);
    open.add(c).add(u);
    c.on('close', () => open.delete(c));
    u.on('close', () => open.delete(u));
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Idle keep-alive connections would hold close() for the server's keep-alive timeout.
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const sock of open) sock.destroy();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('a daemon serves its public images as simplestreams; another daemon pulls from it', { skip: haveSquashfs ? false : 'squashfs-tools is not installed' }, async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  useConfigDir(b);
  const src = join(a.dir, 'src');
  mkdirSync(src);
  const s = split(src, await build(src, 'pub', 1_700_000_000), 'pubsplit');
  const up = spawnSync('curl', ['-s', '--unix-socket', a.socket, '-X', 'POST', '-H', 'X-Incus-aliases: pubsplit', '-H', 'X-Incus-public: true', '-F', `metadata=@${s.meta}`, '-F', `rootfs=@${s.root}`, 'http://incus/1.0/images'], { encoding: 'utf8' });
  t.equal((await waitOp(a, { status: 202, body: JSON.parse(up.stdout) as Record<string, unknown> })).status, 'Success');
  const fpSplit = sha(s.meta, s.root);
  const bb = (await images(a)).find((i) => i.aliases.some((x) => x.name === 'busybox')) as Image;
  t.equal((await rawRequest(a.socket, 'PATCH', `/1.0/images/${bb.fingerprint}`, JSON.stringify({ public: true }))).status, 200);
  const priv = await build(src, 'private', 1_700_500_000);
  t.equal((await a.cli(['image', 'import', priv, '--alias', 'secretimg'])).code, 0);

  const index = await rawRequest(a.socket, 'GET', '/streams/v1/index.json');
  t.equal(index.status, 200);
  const stream = index.body as unknown as Stream;
  t.same(stream.index.images?.products.sort(), [bb.fingerprint, fpSplit].sort(), 'one product per public image');
  const products = (await rawRequest(a.socket, 'GET', '/streams/v1/images.json')).body as unknown as Products;
  const { images: listed, files } = productsToImages(products);
  t.same(listed.map((i) => i.fingerprint).sort(), [bb.fingerprint, fpSplit].sort(), 'fingerprints as the daemon has them; the private image is absent');
  t.equal(files.get(fpSplit)?.meta.sha256, sha(s.meta));
  t.equal(files.get(fpSplit)?.root?.sha256, sha(s.root));
  const got = spawnSync('curl', ['-s', '--unix-socket', a.socket, '-o', join(src, 'got.bin'), `http://incus/${files.get(fpSplit)?.root?.path}`]);
  t.equal(got.status, 0);
  t.equal(sha(join(src, 'got.bin')), sha(s.root), 'stream files download intact');
  const hidden = await rawRequest(a.socket, 'GET', `/streams/images/${sha(priv)}/metadata`);
  t.equal(hidden.status, 404, 'private images are not served');

  // Daemon B pulls from A's stream (through a loopback TCP forwarder to A's socket).
  const url = await tcpToUnix(t, a.socket);
  t.equal((await b.cli(['remote', 'add', 'a', url, '--protocol', 'simplestreams'])).code, 0);
  const l = await b.cli(['launch', 'a:pubsplit', 'fromA']);
  t.equal(l.code, 0, l.stderr);
  t.ok((await images(b)).some((i) => i.fingerprint === fpSplit && i.cached), 'B cached A\'s split image');
  t.equal(lxcAttach(b.dir, 'fromA', ['hostname']).out.trim(), 'fromA');

  // Incus protocol between the two daemons on this host (unix:// server): a private image with a one-time secret.
  t.equal((await b.cli(['remote', 'add', 'adaemon', `unix://${a.socket}`])).code, 0);
  const cp = await b.cli(['image', 'copy', 'adaemon:secretimg', 'local:', '--alias', 'copied']);
  t.equal(cp.code, 0, cp.stderr);
  t.match(cp.stdout, 'Image copied successfully!');
  t.ok((await images(b)).some((i) => i.fingerprint === sha(priv) && i.aliases.some((x) => x.name === 'copied')), 'private image copied with its secret');
  const ops = await a.client.getOperations();
  t.notOk(ops.some((o) => o.class === 'token' && o.status === 'Running'), 'the secret was used up');
  const secret = await rawRequest(a.socket, 'POST', `/1.0/images/${sha(priv)}/secret`);
  t.equal(secret.status, 202);
  t.match((secret.body.metadata as { metadata: { secret: string } }).metadata.secret, /^[0-9a-f]{64}$/);
  t.equal((await b.cli(['delete', '-f', 'fromA'])).code, 0);
});
