import t, { Test } from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { IncusClient } from '../../lib/client';
import { buildBusyboxImage, hashFile, importImage } from '../../lib/image-builder';

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const daemonBuilt = existsSync(path.join(repoRoot, 'dist', 'lib', 'server', 'main.js'));

async function tmpDir(t: Test, prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `tar -tv` lines as { mode, owner, name, link }. */
async function listTarball(file: string, flag: string): Promise<{ mode: string; owner: string; name: string; link?: string }[]> {
  const { stdout } = await exec('tar', [`-tv${flag}f`, file, '--numeric-owner'], { maxBuffer: 16 << 20 });
  return stdout.trim().split('\n').map((line) => {
    const f = line.split(/\s+/);
    const rest = f.slice(5).join(' ');
    const [name, link] = rest.split(' -> ');
    return { mode: f[0], owner: f[1], name, link };
  });
}

t.test('busybox image: layout, metadata, owners and reproducibility', async (t) => {
  const dir = await tmpDir(t, 'ib-layout-');
  const out = path.join(dir, 'busybox.tar.xz');
  const img = await buildBusyboxImage({ output: out, creationDate: 1700000000 });
  t.equal(img.path, out);
  const st = await fs.stat(out);
  t.equal(img.size, st.size);
  t.equal(img.sha256, (await hashFile(out)).sha256);
  t.match(img.sha256, /^[0-9a-f]{64}$/);

  const entries = await listTarball(out, 'J');
  const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
  t.equal(entries[0].name, 'metadata.yaml', 'metadata.yaml comes first');
  for (const e of entries) {
    if (e.owner !== '0/0') t.fail(`${e.name} is owned by ${e.owner}`);
  }
  t.pass(`all ${entries.length} entries owned by 0/0`);
  t.match(byName.get('rootfs/bin/busybox')?.mode, /^-rwxr-xr-x$/, '/bin/busybox is a regular executable');
  t.equal(byName.get('rootfs/sbin/init')?.mode[0], 'l', '/sbin/init is a link');
  t.equal(byName.get('rootfs/sbin/init')?.link, '../bin/busybox');
  t.equal(byName.get('rootfs/bin/sh')?.link, 'busybox');
  t.equal(byName.get('rootfs/tmp')?.mode, 'drwxrwxrwt');
  t.equal(byName.get('rootfs/etc/init.d/rcS')?.mode, '-rwxr-xr-x');
  for (const d of ['dev', 'proc', 'sys', 'run', 'var/run', 'root', 'home', 'mnt', 'etc']) {
    t.equal(byName.get(`rootfs/${d}`)?.mode[0], 'd', `rootfs/${d} is a directory`);
  }

  const { stdout: metaText } = await exec('tar', ['-xJOf', out, 'metadata.yaml']);
  const meta = parse(metaText) as { architecture: string; creation_date: number; properties: Record<string, string> };
  t.equal(meta.architecture, 'x86_64');
  t.equal(meta.creation_date, 1700000000);
  t.equal(meta.properties.os, 'busybox');
  t.match(meta.properties.release, /^\d+\.\d+/);
  t.match(meta.properties.description, /^Busybox \d+\.\d+\S* x86_64 \(\d{8}_\d{4}\)$/);

  const { stdout: inittab } = await exec('tar', ['-xJOf', out, 'rootfs/etc/inittab']);
  t.notMatch(inittab, /getty/);
  t.notMatch(inittab, /askfirst|respawn/);

  const again = await buildBusyboxImage({ output: path.join(dir, 'again.tar.xz'), creationDate: 1700000000 });
  t.equal(again.sha256, img.sha256, 'same inputs give the same fingerprint');
});

t.test('gzip and uncompressed tarballs', async (t) => {
  const dir = await tmpDir(t, 'ib-comp-');
  const gz = await buildBusyboxImage({ output: path.join(dir, 'b.tar.gz'), compression: 'gzip', creationDate: 1700000000 });
  const { stdout: magic } = await exec('od', ['-An', '-tx1', '-N2', gz.path]);
  t.equal(magic.trim(), '1f 8b');
  t.ok((await listTarball(gz.path, 'z')).some((e) => e.name === 'rootfs/bin/busybox'));
  const plain = await buildBusyboxImage({ output: path.join(dir, 'b.tar'), compression: 'none', creationDate: 1700000000 });
  t.ok((await listTarball(plain.path, '')).some((e) => e.name === 'metadata.yaml'));
  t.ok(plain.size > gz.size);
});

t.test('the rootfs boots as an unprivileged idmapped container', { skip: isRoot ? false : 'needs root and liblxc' }, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ib-boot-'));
  const lxcpath = path.join(dir, 'lxc');
  const name = `ibtest-${process.pid}`;
  const lxc = ['-P', lxcpath, '-n', name];
  // One teardown, so the container is stopped before its rootfs is removed.
  t.teardown(async () => {
    await exec('lxc-stop', [...lxc, '-k']).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });
  const img = await buildBusyboxImage({ output: path.join(dir, 'busybox.tar.xz') });
  const ctdir = path.join(lxcpath, name);
  await fs.mkdir(ctdir, { recursive: true });
  await exec('tar', ['-xJf', img.path, '-C', ctdir, '--numeric-owner', 'rootfs']);
  // The mapped root (uid 1000000) must be able to walk down to the rootfs.
  for (const p of [dir, lxcpath, ctdir]) await fs.chmod(p, 0o755);
  const conf = path.join(ctdir, 'config');
  await fs.writeFile(conf, [
    `lxc.uts.name = ${name}`,
    `lxc.rootfs.path = dir:${path.join(ctdir, 'rootfs')}`,
    'lxc.rootfs.options = idmap=container',
    'lxc.idmap = u 0 1000000 65536',
    'lxc.idmap = g 0 1000000 65536',
    'lxc.net.0.type = empty',
    'lxc.include = /usr/share/lxc/config/common.conf',
    'lxc.include = /usr/share/lxc/config/userns.conf',
    `lxc.log.file = ${path.join(ctdir, 'lxc.log')}`,
    '',
  ].join('\n'));

  await exec('lxc-start', [...lxc, '-f', conf]);
  await exec('lxc-wait', [...lxc, '-s', 'RUNNING', '-t', '10']);
  await t.resolves(exec('lxc-attach', [...lxc, '--', '/bin/true']), 'lxc-attach /bin/true');
  const { stdout: ps } = await exec('lxc-attach', [...lxc, '--', '/bin/ps', '-o', 'comm']);
  t.same(ps.trim().split('\n').slice(1).map((l) => l.trim()).sort(), ['init', 'ps'], 'nothing but init runs');
  const { stdout: uidMap } = await exec('lxc-attach', [...lxc, '--', '/bin/cat', '/proc/self/uid_map']);
  t.match(uidMap, /^\s*0\s+1000000\s+65536/);

  // The default lxc.signal.halt (SIGPWR) must shut busybox init down cleanly.
  const t0 = Date.now();
  await exec('lxc-stop', [...lxc, '-t', '10']);
  const cleanMs = Date.now() - t0;
  t.ok(cleanMs < 8000, `clean stop on SIGPWR took ${cleanMs} ms`);
  const { stdout: state } = await exec('lxc-info', [...lxc, '-s']);
  t.match(state, /STOPPED/);

  await exec('lxc-start', [...lxc, '-f', conf]);
  await exec('lxc-wait', [...lxc, '-s', 'RUNNING', '-t', '10']);
  await exec('lxc-stop', [...lxc, '-k']);
  const { stdout: killed } = await exec('lxc-info', [...lxc, '-s']);
  t.match(killed, /STOPPED/);
});

t.test('--import puts the image in a running daemon under the alias', { skip: isRoot && daemonBuilt ? false : 'needs root and a built incusd' }, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ib-import-'));
  const env: NodeJS.ProcessEnv = { ...process.env, INCUS_DIR: dir };
  delete env.INCUS_SOCKET;
  const daemon = spawn(process.execPath, [path.join(repoRoot, 'bin', 'incusd')], { env, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  const socketPath = path.join(dir, 'unix.socket');
  const client = new IncusClient({ socketPath });
  // One teardown, so the daemon is gone before its directory is removed.
  t.teardown(async () => {
    client.close();
    if (daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGTERM');
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(dir, { recursive: true, force: true });
  });
  for (let i = 0; ; i++) {
    try {
      await client.getServer();
      break;
    } catch (err) {
      if (i > 200 || daemon.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const out = path.join(dir, 'bb.tar.xz');
  const { stdout } = await exec(process.execPath, [path.join(repoRoot, 'bin', 'incus-image-builder'), 'busybox', '--output', out, '--import', 'bb'], { env });
  t.equal(stdout.trim(), out, 'prints the tarball path');
  const { sha256 } = await hashFile(out);
  const alias = await client.getImageAlias('bb');
  t.equal(alias.target, sha256, 'the alias points at the tarball\'s sha256');
  const image = await client.getImage(sha256);
  t.equal(image.architecture, 'x86_64');
  t.equal(image.properties.os, 'busybox');

  // Importing again moves the alias to the new build.
  const again = await buildBusyboxImage({ output: path.join(dir, 'bb2.tar.xz'), creationDate: 1700000000 });
  t.equal(await importImage(again.path, { aliases: ['bb'], socketPath }), again.sha256);
  t.equal((await client.getImageAlias('bb')).target, again.sha256);
});
