/**
 * Project limits against a real daemon and real busybox containers:
 * limits.instances refuses the launch past it (also a copy or a backup
 * import into the project), limits.memory refuses an instance, an update and a profile
 * change that would take the project past it and instances that do not
 * set limits.memory, a limit below current usage is refused, and
 * limits.disk counts root disk sizes and custom volumes (instances and
 * volumes past it refused), and GET /1.0/projects/NAME/state reports
 * limits and usage as Incus does.
 */
import t from 'tap';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { type Body, createInstance, deleteProjectInstances, makeProject, q } from './lib/project-helpers';

const MiB = 1024 * 1024;

t.test('project limits', async (t) => {
  const d = await withDaemon(t);
  t.teardown(async () => {
    for (const p of ['lim', 'mem', 'dsk']) await deleteProjectInstances(d, p);
  });

  t.test('limits.instances: the third launch is refused, usage in /state', async (t) => {
    await makeProject(d, 'lim', { 'limits.instances': '2' });
    const c1 = await createInstance(d, 'lim', 'c1', { start: true });
    t.equal(c1.opStatus, 'Success', c1.error);
    const c2 = await createInstance(d, 'lim', 'c2');
    t.equal(c2.opStatus, 'Success', c2.error);
    const c3 = await createInstance(d, 'lim', 'c3', { start: true });
    t.equal(c3.status, 400, 'third launch refused at once');
    t.equal(c3.error, 'Reached maximum number of instances in project "lim"');
    t.equal((await q(d, 'GET', '/1.0/instances/c3?project=lim')).status, 404, 'nothing created');

    const copy = await q(d, 'POST', '/1.0/instances?project=lim', { name: 'c3', source: { type: 'copy', source: 'c1' } });
    t.equal(copy.status, 400, 'a copy into the project counts too');
    t.equal(copy.body.error, 'Reached maximum number of instances in project "lim"');

    const file = join(d.dir, 'c1-backup.tar.gz');
    const exp = await d.cli(['--project', 'lim', 'export', 'c1', file, '--instance-only']);
    t.equal(exp.code, 0, exp.stderr);
    const imp = await d.cli(['--project', 'lim', 'import', file, 'c3']);
    t.not(imp.code, 0, 'so does a backup import into it');
    t.match(imp.stderr, 'Reached maximum number of instances in project "lim"');
    t.equal((await q(d, 'GET', '/1.0/instances/c3?project=lim')).status, 404, 'nothing imported');

    const st = await q(d, 'GET', '/1.0/projects/lim/state');
    t.equal(st.status, 200);
    const res = (st.body.metadata as Body).resources as Record<string, { Limit: number; Usage: number }>;
    t.same(res.instances, { Limit: 2, Usage: 2 });
    t.same(res.containers, { Limit: -1, Usage: 2 });
    t.same(res['virtual-machines'], { Limit: -1, Usage: 0 });
    t.same(res.memory, { Limit: -1, Usage: 0 });
    t.same(res.cpu, { Limit: -1, Usage: 0 });
    t.same(res.networks, { Limit: -1, Usage: 0 });
    t.same(Object.keys(res).sort(), ['containers', 'cpu', 'disk', 'instances', 'memory', 'networks', 'processes', 'virtual-machines']);
    t.equal((await q(d, 'GET', '/1.0/projects/nope/state')).status, 404);

    const low = await q(d, 'PATCH', '/1.0/projects/lim', { config: { 'limits.instances': '1' } });
    t.equal(low.status, 400, 'a limit below usage is refused');
    t.equal(low.body.error, 'Can\'t change limits.instances in project "lim": "limits.instances" is too low: there currently are 2 total instances in project "lim"');
    const lowC = await q(d, 'PATCH', '/1.0/projects/lim', { config: { 'limits.containers': '1' } });
    t.equal(lowC.status, 400);
    t.equal(lowC.body.error, 'Can\'t change "limits.containers" in project "lim": "limits.containers" is too low: there currently are 2 instances of type container in project "lim"');
    const limCfg = ((await q(d, 'GET', '/1.0/projects/lim')).body.metadata as { config: Body }).config;
    t.equal(limCfg['limits.instances'], '2', 'unchanged');

    const unset = await q(d, 'PATCH', '/1.0/projects/lim', { config: { 'limits.memory': '1GiB' } });
    t.equal(unset.status, 400, 'an aggregate limit needs every instance to set the key');
    t.equal(unset.body.error, 'Instance "c1" in project "lim" has no "limits.memory" config, either directly or via a profile');
    const bogus = await q(d, 'PATCH', '/1.0/projects/lim', { config: { 'limits.bogus': '1' } });
    t.equal(bogus.status, 400);
    t.equal(bogus.body.error, 'Invalid project configuration key "limits.bogus"');
  });

  t.test('limits.memory: instances, updates and profile changes past it are refused', async (t) => {
    await makeProject(d, 'mem', { 'limits.memory': '256MiB' });
    const none = await createInstance(d, 'mem', 'm0');
    t.equal(none.status, 400, 'an instance without limits.memory is refused');
    t.equal(
      none.error,
      'Failed checking if instance creation allowed: Failed getting usage of project entities: Instance "m0" in project "mem" has no "limits.memory" config, either directly or via a profile',
    );
    const big = await createInstance(d, 'mem', 'm0', { config: { 'limits.memory': '512MiB' } });
    t.equal(big.status, 400, 'an instance asking more than the limit is refused');
    t.equal(big.error, 'Failed checking if instance creation allowed: Reached maximum aggregate value "256MiB" for "limits.memory" in project "mem"');

    t.equal((await q(d, 'PATCH', '/1.0/profiles/default?project=mem', { config: { 'limits.memory': '128MiB' } })).status, 200);
    const m1 = await createInstance(d, 'mem', 'm1', { start: true });
    t.equal(m1.opStatus, 'Success', m1.error);
    const m2 = await createInstance(d, 'mem', 'm2', { config: { 'limits.memory': '100MiB' } });
    t.equal(m2.opStatus, 'Success', m2.error);

    const upd = await q(d, 'PATCH', '/1.0/instances/m2?project=mem', { config: { 'limits.memory': '200MiB' } });
    t.equal(upd.status, 400, 'an update past the limit is refused');
    t.equal(upd.body.error, 'Failed checking if instance update allowed: Reached maximum aggregate value "256MiB" for "limits.memory" in project "mem"');
    const put = await q(d, 'PUT', '/1.0/instances/m2?project=mem', { config: { 'limits.memory': '200MiB' }, devices: {}, profiles: ['default'] });
    t.equal(put.status, 400, 'PUT too');
    const m2cfg = ((await q(d, 'GET', '/1.0/instances/m2?project=mem')).body.metadata as { config: Body }).config;
    t.equal(m2cfg['limits.memory'], '100MiB', 'unchanged');

    const prof = await q(d, 'PATCH', '/1.0/profiles/default?project=mem', { config: { 'limits.memory': '512MiB' } });
    t.equal(prof.status, 400, 'a profile change that takes an instance past the limit is refused');
    t.equal(prof.body.error, 'Failed checking if profile update allowed: Reached maximum aggregate value "256MiB" for "limits.memory" in project "mem"');
    const profCfg = ((await q(d, 'GET', '/1.0/profiles/default?project=mem')).body.metadata as { config: Body }).config;
    t.equal(profCfg['limits.memory'], '128MiB', 'profile unchanged');

    const res = ((await q(d, 'GET', '/1.0/projects/mem/state')).body.metadata as Body).resources as Record<string, { Limit: number; Usage: number }>;
    t.same(res.memory, { Limit: 256 * MiB, Usage: 228 * MiB });
    t.same(res.instances, { Limit: -1, Usage: 2 });

    const low = await q(d, 'PATCH', '/1.0/projects/mem', { config: { 'limits.memory': '200MiB' } });
    t.equal(low.status, 400, 'a memory limit below usage is refused');
    t.equal(low.body.error, '"limits.memory" is too low: current total is "228.0MiB"');
    t.equal((await q(d, 'PATCH', '/1.0/projects/mem', { config: { 'limits.memory': '228MiB' } })).status, 200, 'at usage is fine');
  });

  t.test('limits.disk: root disk sizes and custom volumes count together', async (t) => {
    await makeProject(d, 'dsk', { 'limits.disk': '1GiB' });
    const root = { root: { type: 'disk', path: '/', pool: 'default', size: '400MiB' } };
    t.equal((await q(d, 'PATCH', '/1.0/profiles/default?project=dsk', { devices: root })).status, 200);
    const d1 = await createInstance(d, 'dsk', 'd1');
    t.equal(d1.opStatus, 'Success', d1.error);
    const vol = await q(d, 'POST', '/1.0/storage-pools/default/volumes?project=dsk', { name: 'v1', type: 'custom', config: { size: '500MiB' } });
    t.equal(vol.status, 200, JSON.stringify(vol.body));
    const d2 = await createInstance(d, 'dsk', 'd2');
    t.equal(d2.status, 400, 'a root disk past the limit is refused');
    t.equal(d2.error, 'Failed checking if instance creation allowed: Reached maximum aggregate value "1GiB" for "limits.disk" in project "dsk"');
    const v2 = await q(d, 'POST', '/1.0/storage-pools/default/volumes?project=dsk', { name: 'v2', type: 'custom', config: { size: '200MiB' } });
    t.equal(v2.status, 400, 'so is a volume');
    t.equal(v2.body.error, 'Failed checking if volume creation allowed: Reached maximum aggregate value "1GiB" for "limits.disk" in project "dsk"');
    const v3 = await q(d, 'POST', '/1.0/storage-pools/default/volumes?project=dsk', { name: 'v3', type: 'custom' });
    t.equal(v3.status, 400, 'and a volume without a size');
    t.equal(v3.body.error, 'Failed checking if volume creation allowed: Failed getting usage of project entities: Custom volume "v3" in project "dsk" has no "size" config set');
    const grow = await q(d, 'PATCH', '/1.0/storage-pools/default/volumes/custom/v1?project=dsk', { config: { size: '700MiB' } });
    t.equal(grow.status, 400, 'growing a volume past the limit is refused');

    const pool = await q(d, 'PATCH', '/1.0/projects/dsk', { config: { 'limits.disk.pool.default': '800MiB' } });
    t.equal(pool.status, 400);
    t.equal(pool.body.error, '"limits.disk.pool.default" is too low: current total is "900.0MiB"');
    t.equal((await q(d, 'PATCH', '/1.0/projects/dsk', { config: { 'limits.disk.pool.default': '900MiB' } })).status, 200);
    const res = ((await q(d, 'GET', '/1.0/projects/dsk/state')).body.metadata as Body).resources as Record<string, { Limit: number; Usage: number }>;
    t.same(res.disk, { Limit: 1024 * MiB, Usage: 900 * MiB });
    t.same(res['disk.default'], { Limit: 900 * MiB, Usage: 900 * MiB });
    t.equal((await q(d, 'DELETE', '/1.0/storage-pools/default/volumes/custom/v1?project=dsk')).status, 200);
  });
});
