/**
 * Restricted projects against a real daemon and real busybox containers:
 * with `restricted=true` and Incus's defaults, security.privileged=true,
 * security.nesting=true and a host-path disk are refused on create, on
 * update and through a profile, each message naming the key or device;
 * restricted.* keys loosen that (disk paths under
 * restricted.devices.disk.paths only); a restricted.* key that what the
 * project holds already breaks is refused (turning `restricted` on is not
 * checked, as in Incus); snapshots and backups are
 * blocked until restricted.snapshots / restricted.backups allow them.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { type Body, createInstance, deleteProjectInstances, makeProject, q, waitOp } from './lib/project-helpers';

t.test('restricted project', async (t) => {
  const d = await withDaemon(t);
  const hostDir = mkdtempSync(join(tmpdir(), 'restricted-src-'));
  t.teardown(async () => {
    await deleteProjectInstances(d, 'r');
    rmSync(hostDir, { recursive: true, force: true });
  });
  await makeProject(d, 'r', { restricted: 'true' });
  const where = (name: string) => `on container "${name}" of project "r"`;
  const hostDisk = { host: { type: 'disk', source: hostDir, path: '/mnt' } };

  t.test('Incus defaults: privileged, nesting and host-path disks refused, naming the key', async (t) => {
    const ok = await createInstance(d, 'r', 'c1', { start: true });
    t.equal(ok.opStatus, 'Success', `a plain container is fine: ${ok.error}`);

    const priv = await createInstance(d, 'r', 'x', { config: { 'security.privileged': 'true' } });
    t.equal(priv.status, 400);
    t.equal(priv.error, `Failed checking if instance creation allowed: Invalid value "true" for config "security.privileged" ${where('x')}: Privileged containers are forbidden`);
    const nest = await createInstance(d, 'r', 'x', { config: { 'security.nesting': 'true' } });
    t.equal(nest.status, 400);
    t.equal(nest.error, `Failed checking if instance creation allowed: Invalid value "true" for config "security.nesting" ${where('x')}: Container nesting is forbidden`);
    const disk = await createInstance(d, 'r', 'x', { devices: hostDisk });
    t.equal(disk.status, 400);
    t.equal(disk.error, `Failed checking if instance creation allowed: Invalid device "host" ${where('x')}: Attaching disks not backed by a pool is forbidden`);
    const lowlevel = await createInstance(d, 'r', 'x', { config: { 'raw.lxc': 'lxc.log.level=1' } });
    t.equal(lowlevel.status, 400);
    t.equal(lowlevel.error, `Failed checking if instance creation allowed: Use of low-level config "raw.lxc" ${where('x')} is forbidden`);
    const vol = await createInstance(d, 'r', 'x', { config: { 'volatile.uuid': 'foo' } });
    t.equal(vol.status, 400);
    t.equal(vol.error, 'Setting "volatile.uuid" on container "x" in project "r" is forbidden');
    t.equal((await q(d, 'GET', '/1.0/instances/x?project=r')).status, 404, 'nothing created');
    const volUpd = await q(d, 'PATCH', '/1.0/instances/c1?project=r', { config: { 'volatile.uuid': 'foo' } });
    t.same([volUpd.status, volUpd.body.error], [400, 'Changing "volatile.uuid" on container "c1" in project "r" is forbidden'], 'a volatile key cannot be changed either');
    t.equal((await q(d, 'PATCH', '/1.0/instances/c1?project=r', { config: { 'volatile.eth0.hwaddr': '10:66:6a:00:00:01' } })).status, 200, 'a MAC address may be set');
    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.images.servers': 'images.example.org' } })).status, 200);
    // Refused while planning: nothing is fetched (the server is a closed local port anyway).
    const server = await q(d, 'POST', '/1.0/instances?project=r', { name: 'x', source: { type: 'image', server: 'https://127.0.0.1:1', protocol: 'simplestreams', alias: 'busybox' } });
    t.equal(server.status, 400, 'an image server outside restricted.images.servers is refused');
    t.equal(server.body.error, 'Image server "127.0.0.1:1" isn\'t allowed in this project');

    const upd = await q(d, 'PATCH', '/1.0/instances/c1?project=r', { config: { 'security.privileged': 'true' } });
    t.equal(upd.status, 400, 'an update is checked too');
    t.equal(upd.body.error, `Failed checking if instance update allowed: Invalid value "true" for config "security.privileged" ${where('c1')}: Privileged containers are forbidden`);
    const updDisk = await q(d, 'PATCH', '/1.0/instances/c1?project=r', { devices: hostDisk });
    t.equal(updDisk.status, 400);
    t.match(updDisk.body.error, 'Invalid device "host"');

    const prof = await q(d, 'PATCH', '/1.0/profiles/default?project=r', { config: { 'security.nesting': 'true' } });
    t.equal(prof.status, 400, 'a profile change is checked');
    // As in Incus, the instances using the profile are checked (expanded) before the profiles themselves.
    t.equal(prof.body.error, `Failed checking if profile update allowed: Invalid value "true" for config "security.nesting" ${where('c1')}: Container nesting is forbidden`);
    const newProf = await q(d, 'POST', '/1.0/profiles?project=r', { name: 'priv', config: { 'security.privileged': 'true' } });
    t.equal(newProf.status, 400, 'so is a new profile');
    t.match(newProf.body.error, '"security.privileged" on profile "priv"');
    t.equal((await q(d, 'GET', '/1.0/profiles/priv?project=r')).status, 404);

    const dflt = await createInstance(d, 'default', 'free', { config: { 'security.nesting': 'true' } });
    t.equal(dflt.opStatus, 'Success', `the default project is not restricted: ${dflt.error}`);
    t.equal((await q(d, 'DELETE', '/1.0/instances/free')).status, 202);
  });

  t.test('restricted.* keys loosen the defaults', async (t) => {
    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.containers.nesting': 'allow' } })).status, 200);
    const nest = await createInstance(d, 'r', 'n1', { config: { 'security.nesting': 'true' } });
    t.equal(nest.opStatus, 'Success', nest.error);
    const back = await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.containers.nesting': 'block' } });
    t.equal(back.status, 400, 'a restriction that an instance already breaks is refused');
    t.equal(
      back.body.error,
      `Conflict detected when changing "restricted.containers.nesting" in project "r": Invalid value "true" for config "security.nesting" ${where('n1')}: Container nesting is forbidden`,
    );

    const paths = { 'restricted.devices.disk': 'allow', 'restricted.devices.disk.paths': join(hostDir, 'sub') };
    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: paths })).status, 200);
    const outside = await createInstance(d, 'r', 'x', { devices: hostDisk });
    t.equal(outside.status, 400);
    t.equal(outside.error, `Failed checking if instance creation allowed: Invalid device "host" ${where('x')}: Disk source path "${hostDir}" not allowed`);
    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.devices.disk.paths': hostDir } })).status, 200);
    const inside = await createInstance(d, 'r', 'd1', { devices: hostDisk });
    t.equal(inside.opStatus, 'Success', `a path under restricted.devices.disk.paths is fine: ${inside.error}`);

    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.containers.privilege': 'allow' } })).status, 200);
    const upd = await q(d, 'PATCH', '/1.0/instances/n1?project=r', { config: { 'security.privileged': 'true' } });
    t.equal(upd.status, 200, JSON.stringify(upd.body));
  });

  t.test('only restricted.* keys are checked against what the project holds', async (t) => {
    await makeProject(d, 'u');
    const nic = { eth0: { type: 'nic', nictype: 'p2p', name: 'eth0' } };
    t.equal((await q(d, 'PATCH', '/1.0/profiles/default?project=u', { devices: { root: { type: 'disk', path: '/', pool: 'default' }, ...nic } })).status, 200);
    t.equal((await q(d, 'PATCH', '/1.0/projects/u', { config: { restricted: 'true' } })).status, 200, 'turning restricted on is not checked (as in Incus)');
    const managed = await q(d, 'PATCH', '/1.0/projects/u', { config: { 'restricted.devices.nic': 'managed' } });
    t.equal(managed.status, 400);
    t.equal(managed.body.error, 'Conflict detected when changing "restricted.devices.nic" in project "u": Invalid device "eth0" on profile "default" of project "u": Only managed network devices are allowed');
    t.equal((await q(d, 'PATCH', '/1.0/projects/u', { config: { 'restricted.devices.nic': 'allow' } })).status, 200);
    t.equal((await q(d, 'DELETE', '/1.0/projects/u')).status, 200);
  });

  t.test('snapshots and backups blocked by default', async (t) => {
    const snap = await q(d, 'POST', '/1.0/instances/c1/snapshots?project=r', { name: 's0' });
    t.equal(snap.status, 400);
    t.equal(snap.body.error, 'Project "r" doesn\'t allow for snapshot creation');
    const bk = await q(d, 'POST', '/1.0/instances/c1/backups?project=r', { name: 'b0' });
    t.equal(bk.status, 400);
    t.equal(bk.body.error, 'Project "r" doesn\'t allow for backup creation');
    t.equal((await q(d, 'PATCH', '/1.0/projects/r', { config: { 'restricted.snapshots': 'allow' } })).status, 200);
    const ok = await q(d, 'POST', '/1.0/instances/c1/snapshots?project=r', { name: 's0' });
    t.equal(ok.status, 202);
    t.equal((await waitOp(d, ok.body)).status, 'Success');
    const snaps = await q(d, 'GET', '/1.0/instances/c1/snapshots?project=r');
    t.equal((snaps.body.metadata as Body[]).length, 1);
  });
});

t.test('networks and pools a project may not use are hidden from it, as Incus', async (t) => {
  // The managed bridge lives in the daemon's own network namespace.
  const d = await withDaemon(t, { netns: true });
  t.equal((await q(d, 'POST', '/1.0/networks', { name: 'vis0', config: { 'ipv4.address': 'none', 'ipv6.address': 'none' } })).status, 201);
  t.teardown(() => q(d, 'DELETE', '/1.0/networks/vis0'));
  t.equal((await q(d, 'POST', '/1.0/projects', { name: 'vis', config: {} })).status, 200);
  t.teardown(() => q(d, 'DELETE', '/1.0/projects/vis'));
  const names = async (): Promise<string[]> => ((await q(d, 'GET', '/1.0/networks?project=vis')).body.metadata as string[]).map((u) => u.split('/').pop()!);
  const set = (config: Record<string, string>) => q(d, 'PATCH', '/1.0/projects/vis', { config });
  t.ok((await names()).includes('vis0'), 'unrestricted: listed');
  t.equal((await set({ restricted: 'true', 'restricted.devices.nic': 'block' })).status, 200);
  t.notOk((await names()).includes('vis0'), 'restricted.devices.nic=block: not listed');
  const hidden = await q(d, 'GET', '/1.0/networks/vis0?project=vis');
  t.same([hidden.status, hidden.body.error], [404, 'Network not found'], 'nor shown');
  t.equal((await q(d, 'GET', '/1.0/networks/vis0/state?project=vis')).status, 404, 'nor its state');
  t.equal((await q(d, 'GET', '/1.0/networks/vis0/forwards?project=vis')).status, 404, 'nor its forwards');
  t.equal((await q(d, 'GET', '/1.0/networks/vis0/forwards')).status, 200, 'which the default project sees');
  t.equal((await q(d, 'PATCH', '/1.0/networks/vis0?project=vis', { config: { 'user.a': 'b' } })).status, 404, 'nor changed');
  const create = await q(d, 'POST', '/1.0/networks?project=vis', { name: 'vis1' });
  t.same([create.status, create.body.error], [403, 'Network not allowed in project'], 'nor created');
  t.equal((await set({ 'restricted.devices.nic': 'managed' })).status, 200);
  t.ok((await names()).includes('vis0'), 'restricted.devices.nic=managed: the managed network is listed');
  t.equal((await q(d, 'GET', '/1.0/networks/vis0?project=vis')).status, 200);
  t.equal((await set({ 'restricted.devices.nic': 'allow', 'restricted.networks.access': 'other' })).status, 200);
  t.notOk((await names()).includes('vis0'), 'outside restricted.networks.access: hidden');
  t.ok(((await q(d, 'GET', '/1.0/networks')).body.metadata as string[]).includes('/1.0/networks/vis0'), 'the default project still sees it');

  const pools = async (project: string): Promise<string[]> => (await q(d, 'GET', `/1.0/storage-pools?project=${project}`)).body.metadata as string[];
  t.ok((await pools('vis')).includes('/1.0/storage-pools/default'));
  t.equal((await q(d, 'PATCH', '/1.0/projects/vis', { config: { 'limits.disk.pool.default': '0' } })).status, 200);
  t.notOk((await pools('vis')).includes('/1.0/storage-pools/default'), 'limits.disk.pool.default=0: the pool is hidden from the project');
  t.equal((await q(d, 'GET', '/1.0/storage-pools/default?project=vis')).status, 404, 'and answers 404 there');
  t.ok((await pools('default')).includes('/1.0/storage-pools/default'), 'other projects still see it');
});
