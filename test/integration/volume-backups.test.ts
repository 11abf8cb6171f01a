/**
 * Custom volume backups, as Incus has them: create, list, get, rename and
 * delete through the API (the tarballs under backups/custom/POOL/PROJECT_VOL,
 * following a volume rename and gone with the volume), `storage volume
 * export` (Incus's tarball layout) and `import` under a new name with the
 * snapshots' content and config, ISO import (`--type=iso`, the default for
 * a .iso file), expired backups pruned at start, and the errors for bad
 * requests and bad files.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

const volDir = (d: TestDaemon, name: string): string => join(d.dir, 'storage-pools', 'default', 'custom', `default_${name}`);
const snapDir = (d: TestDaemon, name: string, snap: string): string => join(d.dir, 'storage-pools', 'default', 'custom-snapshots', `default_${name}`, snap);
const base = (vol: string): string => `/1.0/storage-pools/default/volumes/custom/${vol}/backups`;

t.test('custom volume backups: API, export/import, expiry, errors', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const r = await d.cli(args, stdin);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (args: string[], msg: RegExp): Promise<void> => {
    const r = await d.cli(args);
    t.not(r.code, 0, `incus ${args.join(' ')} fails`);
    t.match(r.stderr, msg);
  };
  const names = async (vol: string): Promise<string[]> => (await rawRequest(d.socket, 'GET', base(vol))).body.metadata as string[];

  await ok(['storage', 'volume', 'create', 'default', 'v1', 'user.foo=first']);
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'one\n');
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's1']);
  await ok(['storage', 'volume', 'set', 'default', 'v1', 'user.foo=second']);
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'two\n');

  // API: create (named and auto-named), list, get, rename, delete.
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"b1"}', base('v1')]);
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"volume_only":true,"compression_algorithm":"none"}', base('v1')]);
  t.same(await names('v1'), [`${base('v1')}/b1`, `${base('v1')}/backup0`], 'both listed, the second auto-named');
  const one = JSON.parse(await ok(['query', `${base('v1')}/backup0`])) as Record<string, unknown>;
  t.equal(one.volume_only, true);
  t.equal(one.expires_at, '0001-01-01T00:00:00Z', 'no expiry by default');
  const b1 = join(d.dir, 'backups', 'custom', 'default', 'default_v1', 'b1');
  t.ok(existsSync(b1), 'the tarball is under backups/custom/POOL/PROJECT_VOL');
  const members = execFileSync('tar', ['-tzf', b1]).toString();
  for (const m of ['backup/index.yaml', 'backup/volume/data', 'backup/volume-snapshots/s1/data']) t.match(members, m, `${m} in the tarball`);
  const idx = execFileSync('tar', ['-xzOf', b1, 'backup/index.yaml']).toString();
  t.match(idx, /type: custom/);
  t.match(idx, /- s1/);
  t.match(idx, /volume_snapshots:/);
  t.notMatch(execFileSync('tar', ['-tf', join(d.dir, 'backups', 'custom', 'default', 'default_v1', 'backup0')]).toString(), /volume-snapshots/, 'volume_only: no snapshots');

  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"b2"}', `${base('v1')}/b1`]);
  t.same(await names('v1'), [`${base('v1')}/b2`, `${base('v1')}/backup0`], 'renamed');
  await ok(['query', '-X', 'DELETE', '--wait', `${base('v1')}/backup0`]);
  t.same(await names('v1'), [`${base('v1')}/b2`], 'deleted');

  // Errors: bad names, duplicates, missing backups and volumes, bad compression.
  const post = (vol: string, body: unknown) => rawRequest(d.socket, 'POST', base(vol), JSON.stringify(body));
  t.equal((await post('v1', { name: 'b2' })).status, 409, 'a taken name: 409');
  t.match((await post('v1', { name: 'a/b' })).body.error, /Backup names may not contain slashes/);
  // As Incus: on a driver without optimized backups, asking for one makes a normal one.
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"opt","optimized_storage":true}', base('v1')]);
  t.equal((JSON.parse(await ok(['query', `${base('v1')}/opt`])) as Record<string, unknown>).optimized_storage, false, 'an optimized request on dir: recorded as a normal backup');
  t.match(execFileSync('tar', ['-tzf', join(d.dir, 'backups', 'custom', 'default', 'default_v1', 'opt')]).toString(), 'backup/volume/data', 'holding the tree');
  await ok(['query', '-X', 'DELETE', '--wait', `${base('v1')}/opt`]);
  t.equal((await post('v1', { compression_algorithm: 'nope' })).status, 400, 'an unknown compression: 400');
  t.equal((await post('missing', {})).status, 404, 'a missing volume: 404');
  const missing = await rawRequest(d.socket, 'POST', `${base('v1')}/nope`, JSON.stringify({ name: 'x' }));
  t.equal(missing.status, 404);
  t.match(missing.body.error, /Storage volume backup not found/);
  t.match((await rawRequest(d.socket, 'POST', `${base('v1')}/b2`, JSON.stringify({}))).body.error, /No name provided/);
  // JSON volume creation is still checked now that an octet-stream body is an import.
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/storage-pools/default/volumes/custom', JSON.stringify({}))).status, 400, 'a JSON create without a name: 400');
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/storage-pools/default/volumes/custom', JSON.stringify({ name: 3 }))).status, 400, 'a JSON create with a bad name type: 400');

  // A volume rename moves the backups; a delete removes them.
  await ok(['storage', 'volume', 'create', 'default', 'r1']);
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"x"}', base('r1')]);
  await ok(['storage', 'volume', 'rename', 'default', 'r1', 'r2']);
  t.same(await names('r2'), [`${base('r2')}/x`], 'the backup follows the rename');
  t.ok(existsSync(join(d.dir, 'backups', 'custom', 'default', 'default_r2', 'x')));
  t.notOk(existsSync(join(d.dir, 'backups', 'custom', 'default', 'default_r1')));
  await ok(['storage', 'volume', 'delete', 'default', 'r2']);
  t.notOk(existsSync(join(d.dir, 'backups', 'custom', 'default', 'default_r2')), 'gone with the volume');

  // export / import under a new name, with the snapshot's content and config.
  const tmp = mkdtempSync(join(d.dir, 'export-'));
  const file = join(tmp, 'v1.tar.gz');
  t.match(await ok(['storage', 'volume', 'export', 'default', 'v1', file]), /Backup exported successfully!/);
  await fails(['storage', 'volume', 'export', 'default', 'v1', file], /Target path ".*" already exists/);
  t.same(await names('v1'), [`${base('v1')}/b2`], 'the export left no backup behind');
  await ok(['storage', 'volume', 'import', 'default', file, 'v2']);
  t.equal(readFileSync(join(volDir(d, 'v2'), 'data'), 'utf8'), 'two\n', 'the volume content');
  t.equal(readFileSync(join(snapDir(d, 'v2', 's1'), 'data'), 'utf8'), 'one\n', "the snapshot's content");
  t.equal((await ok(['storage', 'volume', 'get', 'default', 'v2', 'user.foo'])).trim(), 'second', 'the volume config');
  t.equal((await ok(['storage', 'volume', 'get', 'default', 'v2/s1', 'user.foo'])).trim(), 'first', "the snapshot's config");
  await fails(['storage', 'volume', 'import', 'default', file, 'v2'], /Volume by that name already exists/);
  await fails(['storage', 'volume', 'import', 'default', file, 'v2', '--type', 'zip'], /Import type needs to be "backup" or "iso"/);
  const junk = join(tmp, 'junk.tar.gz');
  writeFileSync(junk, 'not a tarball');
  await fails(['storage', 'volume', 'import', 'default', junk, 'v3'], /Invalid backup file/);
  t.notOk(existsSync(volDir(d, 'v3')), 'a bad file leaves nothing');
  // Export of a volume that does not exist: as Incus words it.
  await fails(['storage', 'volume', 'export', 'default', 'nope', join(tmp, 'x.tar.gz')], /Storage pool volume "custom\/nope" not found/);

  // ISO import: the image becomes root.img in PROJECT_NAME.iso; named after the file without a name; rename and delete follow.
  const iso = join(tmp, 'disc.iso');
  writeFileSync(iso, Buffer.alloc(64 * 1024, 7));
  await ok(['storage', 'volume', 'import', 'default', iso]);
  t.match(await ok(['storage', 'volume', 'show', 'default', 'disc']), /^content_type: iso$/m, 'an ISO volume');
  const isoDir = (n: string) => join(d.dir, 'storage-pools', 'default', 'custom', `default_${n}.iso`);
  t.same(readFileSync(join(isoDir('disc'), 'root.img')), readFileSync(iso), 'the image is root.img');
  t.match((await post('disc', {})).body.error, /Backups of iso volumes are not supported/);
  await ok(['storage', 'volume', 'rename', 'default', 'disc', 'disc2']);
  t.ok(existsSync(join(isoDir('disc2'), 'root.img')), 'renamed on disk');
  await ok(['storage', 'volume', 'delete', 'default', 'disc2']);
  t.notOk(existsSync(isoDir('disc2')), 'deleted on disk');

  // Expiry: a backup past its expiry is pruned when the daemon starts.
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"old","expires_at":"2023-07-17T00:00:00Z"}', base('v2')]);
  await ok(['query', '-X', 'POST', '--wait', '-d', '{"name":"new"}', base('v2')]);
  t.equal((await names('v2')).length, 2);
  await d.signal('SIGTERM');
  await d.start();
  t.same(await names('v2'), [`${base('v2')}/new`], 'the expired backup is gone after a restart');
  t.notOk(existsSync(join(d.dir, 'backups', 'custom', 'default', 'default_v2', 'old')), 'with its file');

  for (const v of ['v1', 'v2']) await ok(['storage', 'volume', 'delete', 'default', v]);
});
