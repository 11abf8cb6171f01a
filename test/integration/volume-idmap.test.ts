/**
 * Custom volumes in containers, as Incus keeps them: the volume's folder is
 * storage-pools/<pool>/custom/default_<name>; its files are owned on disk
 * by the id map of the container it is attached to (shifted when that map
 * changes, recorded in volatile.idmap.last); a container with another map
 * cannot take a volume in use; `security.shifted` volumes keep host ids
 * behind an idmapped mount. `attach` takes a relative path and --create.
 * Volumes left at the old custom/<name> path are moved at start.
 */
import t from 'tap';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';
import { ok } from './lib/vm';

t.test('custom volumes shifted on disk to the container map', async (t) => {
  const d = await withDaemon(t);
  const pool = (await ok(t, d, ['profile', 'device', 'get', 'default', 'root', 'pool'])).trim();
  const volDir = join(d.dir, 'storage-pools', pool, 'custom', 'default_vol');
  const owner = (p: string): string => {
    const st = statSync(p);
    return `${st.uid}:${st.gid}`;
  };
  /** The host id the container's root maps to (its uid_map's second field). */
  const hostRoot = (name: string): number => Number(lxcAttach(d.dir, name, ['cat', '/proc/self/uid_map']).out.trim().split(/\s+/)[1]);

  await ok(t, d, ['storage', 'volume', 'create', pool, 'vol']);
  t.equal(owner(volDir), '0:0', 'a new volume is root-owned on the host');
  await ok(t, d, ['launch', 'busybox', 'v1']);
  // Incus's five-argument form with a relative path: mounted at /vol.
  await ok(t, d, ['storage', 'volume', 'attach', pool, 'vol', 'v1', 'vol', 'vol']);
  const base = hostRoot('v1');
  t.ok(base > 0, 'v1 is unprivileged');
  t.equal(owner(volDir), `${base}:${base}`, 'shifted on disk to v1\'s map');
  t.equal(lxcAttach(d.dir, 'v1', ['stat', '-c', '%u:%g', '/vol']).out.trim(), '0:0', 'root inside');
  t.equal(lxcAttach(d.dir, 'v1', ['sh', '-c', 'touch /vol/f && chown 7:8 /vol/f']).code, 0);
  t.equal(owner(join(volDir, 'f')), `${base + 7}:${base + 8}`, 'a file made inside lands shifted');
  t.match(await ok(t, d, ['storage', 'volume', 'get', pool, 'vol', 'volatile.idmap.last']), `"Hostid":${base}`, 'the on-disk map is recorded');

  // Another map cannot take a volume in use.
  await ok(t, d, ['launch', 'busybox', 'v2', '-c', 'security.idmap.isolated=true']);
  const clash = await d.cli(['storage', 'volume', 'attach', pool, 'vol', 'v2', 'vol', '/vol']);
  t.not(clash.code, 0, 'an isolated container is refused');
  t.match(clash.stderr, /Idmaps of container .*are not identical/, clash.stderr);
  t.notOk('vol' in (await d.client.getInstance('v2')).devices, 'the refused device was not kept');

  // Privileged: the files go back to their container ids.
  await ok(t, d, ['config', 'set', 'v1', 'security.privileged=true']);
  await ok(t, d, ['restart', '--force', 'v1']);
  t.equal(owner(volDir), '0:0', 'unshifted for a privileged container');
  t.equal(owner(join(volDir, 'f')), '7:8');
  t.equal((await ok(t, d, ['storage', 'volume', 'get', pool, 'vol', 'volatile.idmap.last'])).trim(), '[]');

  // security.shifted: host ids stay, an idmapped mount shows them.
  await ok(t, d, ['storage', 'volume', 'create', pool, 'sh', 'security.shifted=true']);
  t.not((await d.cli(['storage', 'volume', 'set', pool, 'sh', 'security.unmapped=true'])).code, 0, 'shifted and unmapped exclude each other');
  await ok(t, d, ['storage', 'volume', 'attach', pool, 'sh', 'v2', '/sh']);
  t.equal(lxcAttach(d.dir, 'v2', ['sh', '-c', 'touch /sh/g && chown 7:8 /sh/g']).code, 0);
  t.equal(owner(join(d.dir, 'storage-pools', pool, 'custom', 'default_sh', 'g')), '7:8', 'unshifted on the host');

  // --create makes a missing volume.
  await ok(t, d, ['storage', 'volume', 'attach', '--create', pool, 'made', 'v2', 'made', '/made']);
  t.equal(lxcAttach(d.dir, 'v2', ['test', '-d', '/made']).code, 0, 'the created volume is mounted');
  await ok(t, d, ['delete', '-f', 'v1', 'v2']);
  for (const v of ['vol', 'sh', 'made']) await ok(t, d, ['storage', 'volume', 'delete', pool, v]);
});

t.test('a volume left at the old custom/<name> path is moved to custom/default_<name> at start', async (t) => {
  const d = await withDaemon(t);
  const pool = (await d.cli(['profile', 'device', 'get', 'default', 'root', 'pool'])).stdout.trim();
  const root = join(d.dir, 'storage-pools', pool);
  t.equal((await d.cli(['storage', 'volume', 'create', pool, 'old'])).code, 0);
  t.equal((await d.cli(['storage', 'volume', 'snapshot', 'create', pool, 'old', 's1'])).code, 0);
  writeFileSync(join(root, 'custom', 'default_old', 'kept'), 'kept\n');
  await d.signal('SIGTERM');
  renameSync(join(root, 'custom', 'default_old'), join(root, 'custom', 'old'));
  renameSync(join(root, 'custom-snapshots', 'default_old'), join(root, 'custom-snapshots', 'old'));
  await d.start();
  t.equal(readFileSync(join(root, 'custom', 'default_old', 'kept'), 'utf8'), 'kept\n', 'the volume moved');
  t.ok(existsSync(join(root, 'custom-snapshots', 'default_old', 's1')), 'its snapshots moved');
  t.notOk(existsSync(join(root, 'custom', 'old')), 'nothing left at the old path');
  t.equal((await d.cli(['storage', 'volume', 'delete', pool, 'old'])).code, 0);
});
