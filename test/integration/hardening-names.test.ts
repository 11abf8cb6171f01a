/**
 * Hostile names against a real daemon: pools, volumes, snapshots, profiles,
 * instances and aliases named ".", "..", 1,000 characters, "../x" or "a/b",
 * on create, rename and in URL paths. Each must answer 400 or 404 at once
 * (never a 5xx, never a 202 whose operation fails later), and the daemon's
 * directory must hold exactly the same paths afterwards: an older validator
 * let a pool named ".." take INCUS_DIR as its directory and a volume named
 * ".." delete its whole pool.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

const LONG = 'a'.repeat(1000);

/** Every path under dir (links not followed), minus what a live daemon rewrites: WAL files and logs. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${n}` : n;
      if (p === 'logs' || p === 'incusd.log' || /^database\/.*-(wal|shm|journal)$/.test(p)) continue;
      out.push(p);
      if (lstatSync(join(dir, p)).isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

/**
 * Sends a request that must be refused with one of `want` (400 or 404);
 * a dead socket or a 2xx/5xx is a failure, not an exception.
 */
async function refused(t: Test, d: TestDaemon, method: string, path: string, body: unknown, want: number[], what: string): Promise<void> {
  try {
    const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
    t.ok(want.includes(r.status), `${what}: ${method} ${path} answers ${r.status} (want ${want.join('/')}): ${String(r.body.error ?? '')}`);
    t.not(r.body.type, 'async', `${what}: no operation was started`);
  } catch (err) {
    t.fail(`${what}: ${method} ${path} failed: ${(err as Error).message}`);
  }
}

/** Creates through the API and fails the test when the daemon refuses. */
async function must(t: Test, d: TestDaemon, method: string, path: string, body: unknown): Promise<void> {
  const r = await rawRequest(d.socket, method, path, JSON.stringify(body));
  if (r.body.type === 'async') {
    const op = r.body.operation as string;
    const w = await rawRequest(d.socket, 'GET', `${op}/wait?timeout=60`);
    t.equal((w.body.metadata as { status?: string }).status, 'Success', `${method} ${path}: ${JSON.stringify(w.body.metadata)}`);
    return;
  }
  t.ok(r.status < 300, `${method} ${path}: ${r.status} ${String(r.body.error ?? '')}`);
}

/** POSTs a backup tarball as an import; the status and error of the answer. */
function postTarball(socketPath: string, file: string): Promise<{ status: number; type: string; error: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/1.0/instances', headers: { 'Content-Type': 'application/octet-stream' } }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => {
        const body = JSON.parse(text) as { type?: string; error?: string };
        resolve({ status: res.statusCode ?? 0, type: body.type ?? '', error: body.error ?? '' });
      });
    });
    req.on('error', reject);
    req.end(readFileSync(file));
  });
}

/**
 * A backup tarball in Incus's layout whose index names one snapshot `snap`;
 * the snapshot's folder is renamed to `snap` inside the archive (tar
 * --transform), so that names no directory can have ("..") still arrive.
 */
function hostileBackup(dir: string, snap: string): string {
  const stage = join(dir, 'stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'backup', 'container', 'rootfs'), { recursive: true });
  mkdirSync(join(stage, 'backup', 'snapshots', 'SNAP', 'rootfs'), { recursive: true });
  writeFileSync(join(stage, 'backup', 'container', 'rootfs', 'marker'), 'x\n');
  const yamlName = JSON.stringify(snap);
  writeFileSync(
    join(stage, 'backup', 'index.yaml'),
    `name: imp\nbackend: dir\npool: default\noptimized: false\ntype: container\nsnapshots: [${yamlName}]\n` +
      `config:\n  container:\n    name: imp\n    architecture: x86_64\n    config: {}\n    devices: {}\n    profiles: [default]\n` +
      `  snapshots:\n  - name: ${yamlName}\n    config: {}\n    devices: {}\n    profiles: [default]\n`,
  );
  const file = join(dir, 'hostile.tar');
  const sedSafe = snap.replace(/[\\,&]/g, (c) => `\\${c}`);
  const r = spawnSync('tar', ['-cf', file, '-C', stage, `--transform=s,^backup/snapshots/SNAP,backup/snapshots/${sedSafe},`, 'backup'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  rmSync(stage, { recursive: true, force: true });
  return file;
}

t.test('hostile names are refused up front and touch nothing on disk', async (t) => {
  const d = await withDaemon(t);
  const pools = '/1.0/storage-pools';
  const vols = `${pools}/default/volumes/custom`;
  // Something of every kind to rename and to lose.
  await must(t, d, 'POST', '/1.0/instances', { name: 'c1', source: { type: 'image', alias: 'busybox' } });
  await must(t, d, 'POST', '/1.0/instances/c1/snapshots', { name: 's1' });
  await must(t, d, 'POST', vols, { name: 'v1' });
  await must(t, d, 'POST', `${vols}/v1/snapshots`, { name: 'vs1' });
  await must(t, d, 'POST', '/1.0/profiles', { name: 'p1' });
  const before = tree(d.dir);
  t.ok(before.includes('storage-pools/default/containers/c1/rootfs'), 'the container volume is there to lose');

  // Creation under hostile names.
  for (const name of ['..', '.', '...', 'a/b', LONG]) {
    await refused(t, d, 'POST', pools, { name, driver: 'dir' }, [400], `pool ${JSON.stringify(name.slice(0, 8))}`);
    await refused(t, d, 'POST', vols, { name }, [400], `volume ${JSON.stringify(name.slice(0, 8))}`);
    await refused(t, d, 'POST', '/1.0/profiles', { name }, [400], `profile ${JSON.stringify(name.slice(0, 8))}`);
  }
  for (const name of ['..', '.', LONG, 'a b']) {
    await refused(t, d, 'POST', `${vols}/v1/snapshots`, { name }, [400], `volume snapshot ${name.length} chars`);
    await refused(t, d, 'POST', '/1.0/instances/c1/snapshots', { name }, [400], `instance snapshot ${name.length} chars`);
    await refused(t, d, 'POST', '/1.0/images/aliases', { name, target: 'x' }, [400], `alias ${name.length} chars`);
  }
  await refused(t, d, 'POST', '/1.0/instances', { name: '..', source: { type: 'none' } }, [400], 'instance ".."');

  // Renames: a synchronous 400, before any operation exists.
  for (const name of ['../x', 'a/b', '..', '.']) {
    await refused(t, d, 'POST', '/1.0/instances/c1', { name }, [400], `instance rename to ${name}`);
    await refused(t, d, 'POST', '/1.0/instances/c1/snapshots/s1', { name }, [400], `instance snapshot rename to ${name}`);
    await refused(t, d, 'POST', `${vols}/v1`, { name }, [400], `volume rename to ${name}`);
    await refused(t, d, 'POST', `${vols}/v1/snapshots/vs1`, { name }, [400], `volume snapshot rename to ${name}`);
    await refused(t, d, 'POST', '/1.0/profiles/p1', { name }, [400], `profile rename to ${name}`);
  }
  // Pools cannot be renamed at all.
  await refused(t, d, 'POST', `${pools}/default`, { name: '..' }, [400, 404, 405], 'pool rename');

  // A disk device naming ".." as its custom volume would bind the whole pool.
  await refused(t, d, 'PATCH', '/1.0/instances/c1', { devices: { d: { type: 'disk', pool: 'default', source: '..', path: '/mnt' } } }, [400], 'disk source ".."');

  // Hostile names in URLs find nothing.
  for (const seg of ['%2E%2E', '%2E', '..']) {
    for (const method of ['GET', 'DELETE']) {
      await refused(t, d, method, `${pools}/${seg}`, undefined, [400, 404], `pool ${seg}`);
      await refused(t, d, method, `${vols}/${seg}`, undefined, [400, 404], `volume ${seg}`);
      await refused(t, d, method, `${vols}/v1/snapshots/${seg}`, undefined, [400, 404], `volume snapshot ${seg}`);
      await refused(t, d, method, `/1.0/instances/c1/snapshots/${seg}`, undefined, [400, 404], `instance snapshot ${seg}`);
    }
    await refused(t, d, 'PUT', `${pools}/${seg}`, { config: {}, description: '' }, [400, 404], `pool PUT ${seg}`);
    await refused(t, d, 'PUT', `${vols}/${seg}`, { config: {}, description: '' }, [400, 404], `volume PUT ${seg}`);
  }

  // Names read from a backup's index.yaml are checked as the API's own.
  const scratch = join(d.dir, '..', `${d.dir.split('/').pop()}-tar`);
  mkdirSync(scratch, { recursive: true });
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  for (const snap of ['..', 's*1', 'a'.repeat(300)]) {
    const r = await postTarball(d.socket, hostileBackup(scratch, snap));
    t.equal(r.status, 400, `import with snapshot ${JSON.stringify(snap.slice(0, 8))} (${snap.length} chars) answers ${r.status}: ${r.error}`);
    t.not(r.type, 'async', 'no operation was started');
  }

  // The daemon is alive and its directory is exactly as it was.
  const server = await rawRequest(d.socket, 'GET', '/1.0');
  t.equal(server.status, 200, 'daemon still answers');
  t.strictSame(tree(d.dir), before, 'INCUS_DIR holds the same paths');
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/instances/c1')).status, 200, 'c1 still there');
  t.equal((await rawRequest(d.socket, 'GET', `${vols}/v1/snapshots/vs1`)).status, 200, 'v1/vs1 still there');
  t.same(((await rawRequest(d.socket, 'GET', pools)).body.metadata as string[]).sort(), ['/1.0/storage-pools/default'], 'no new pool');
});
