/** Project limits and restrictions as pure functions: parsing, aggregation, count limits, usage checks, restriction rules. */
import t from 'tap';
import {
  aggregateKeysOf,
  byteSizeIEC,
  checkAggregateLimits,
  checkInstanceCounts,
  checkLimitsNotBelowUsage,
  parseAggregate,
  totalsOf,
} from '../../../lib/server/projects/limits';
import { type InstanceEntity, type ProjectInfo, expandInstances, hasLimitsOrRestrictions } from '../../../lib/server/projects/project-info';
import {
  checkRestrictions,
  diskPathAllowed,
  hostIdsCoveredBy,
  parseHostIdRanges,
  snapshotCreationProblem,
  storagePoolAllowed,
} from '../../../lib/server/projects/restrictions';

const MiB = 2 ** 20;
const root = { root: { type: 'disk', path: '/', pool: 'p1' } };
const inst = (name: string, config: Record<string, string> = {}, devices: InstanceEntity['devices'] = root, profiles: string[] = []): InstanceEntity => ({
  name,
  type: 'container',
  profiles,
  config,
  devices,
});
const info = (config: Record<string, string>, instances: InstanceEntity[], volumes: ProjectInfo['volumes'] = []): ProjectInfo => ({
  name: 'p',
  config,
  profiles: [],
  instances,
  volumes,
});

t.test('parsing aggregate values', async (t) => {
  t.equal(parseAggregate('limits.memory', '256MiB'), 256 * MiB);
  t.throws(() => parseAggregate('limits.memory', '50%'), /Value can't be a percentage/);
  t.equal(parseAggregate('limits.cpu', '4'), 4);
  t.throws(() => parseAggregate('limits.cpu', '0-3'), /CPUs can't be pinned if project limits are used/);
  t.throws(() => parseAggregate('limits.cpu', '1,2'), /pinned/);
  t.equal(parseAggregate('limits.processes', '500'), 500);
  t.equal(parseAggregate('limits.disk.pool.fast', '1GiB'), 2 ** 30, 'pool disk limits parse as limits.disk');
  t.equal(byteSizeIEC(512 * MiB), '512.0MiB');
  t.equal(byteSizeIEC(1000), '1000B');
  t.equal(byteSizeIEC(1536), '1.5KiB');
  t.same(aggregateKeysOf({ 'limits.memory': '1', 'limits.instances': '2', 'limits.disk.pool.x': '3', restricted: 'true' }).sort(), [
    'limits.disk.pool.x',
    'limits.memory',
  ]);
  t.equal(hasLimitsOrRestrictions({ 'features.images': 'true' }), false, 'no limits: nothing is loaded');
  t.equal(hasLimitsOrRestrictions({ 'limits.networks': '1' }), true);
  t.equal(hasLimitsOrRestrictions({ restricted: 'true' }), true);
  t.equal(hasLimitsOrRestrictions({ restricted: 'false', 'restricted.snapshots': 'block' }), false);
});

t.test('aggregation over instances and volumes', async (t) => {
  const i = info({}, [inst('a', { 'limits.memory': '100MiB', 'limits.cpu': '2' }, { root: { ...root.root, size: '1GiB' } }), inst('b', { 'limits.memory': '28MiB' })], [
    { name: 'v', pool: 'p1', config: { size: '1GiB' } },
    { name: 'w', pool: 'p2', config: { size: '2GiB' } },
  ]);
  const totals = totalsOf(i, ['limits.memory', 'limits.cpu', 'limits.disk', 'limits.disk.pool.p2'], true);
  t.same(totals, { 'limits.memory': 128 * MiB, 'limits.cpu': 2, 'limits.disk': 4 * 2 ** 30, 'limits.disk.pool.p2': 2 * 2 ** 30 });
  t.throws(() => totalsOf(i, ['limits.cpu'], false), /Instance "b" in project "p" has no "limits.cpu" config, either directly or via a profile/);
  t.throws(() => totalsOf(i, ['limits.disk'], false), /Instance "b" in project "p" has no "size" config set on the root device/);

  const vm = { ...inst('vm', {}, { root: { ...root.root, size: '1GiB' } }), type: 'virtual-machine' };
  t.same(totalsOf(info({}, [vm]), ['limits.disk', 'limits.processes'], false), { 'limits.disk': 2 ** 30 + 500 * MiB, 'limits.processes': 0 }, 'VM state disk counts, processes do not');

  const limited = info({ 'limits.memory': '128MiB' }, i.instances);
  t.doesNotThrow(() => checkAggregateLimits(limited, ['limits.memory']), 'at the limit is fine');
  const over = info({ 'limits.memory': '127MiB' }, i.instances);
  t.throws(() => checkAggregateLimits(over, ['limits.memory']), { message: 'Reached maximum aggregate value "127MiB" for "limits.memory" in project "p"' });
});

t.test('expansion through profiles', async (t) => {
  const [e] = expandInstances([inst('a', { 'limits.cpu': '1' }, {}, ['default', 'gone'])], [{ name: 'default', config: { 'limits.cpu': '4', 'limits.memory': '1GiB' }, devices: root }]);
  t.same(e!.config, { 'limits.cpu': '1', 'limits.memory': '1GiB' }, 'instance keys win; a missing profile adds nothing');
  t.same(e!.devices, root);
});

t.test('count limits and lowering limits', async (t) => {
  const two = info({ 'limits.instances': '2' }, [inst('a'), inst('b')]);
  t.throws(() => checkInstanceCounts(two, 'container'), { message: 'Reached maximum number of instances in project "p"' });
  const typed = info({ 'limits.containers': '1' }, [inst('a')]);
  t.throws(() => checkInstanceCounts(typed, 'container'), { message: 'Reached maximum number of instances of type "container" in project "p"' });
  t.doesNotThrow(() => checkInstanceCounts(info({ 'limits.virtual-machines': '0' }, [inst('a')]), 'container'));

  t.throws(() => checkLimitsNotBelowUsage(two, { 'limits.instances': '1' }, ['limits.instances']), /"limits.instances" is too low: there currently are 2 total instances/);
  t.doesNotThrow(() => checkLimitsNotBelowUsage(two, { 'limits.instances': '2' }, ['limits.instances']));
  const mem = info({}, [inst('a', { 'limits.memory': '300MiB' })]);
  t.throws(() => checkLimitsNotBelowUsage(mem, { 'limits.memory': '256MiB' }, ['limits.memory']), { message: '"limits.memory" is too low: current total is "300.0MiB"' });
  t.doesNotThrow(() => checkLimitsNotBelowUsage(mem, {}, ['limits.memory']), 'removing a limit is always fine');
});

t.test('restrictions', async (t) => {
  const cfg = { restricted: 'true' };
  const check = (i: InstanceEntity, config: Record<string, string> = cfg) => () => checkRestrictions('p', config, [i], []);
  t.doesNotThrow(check(inst('ok')));
  t.throws(check(inst('a', { 'security.privileged': 'true' })), {
    message: 'Invalid value "true" for config "security.privileged" on container "a" of project "p": Privileged containers are forbidden',
  });
  t.doesNotThrow(check(inst('a', { 'security.privileged': 'true' }), { ...cfg, 'restricted.containers.privilege': 'allow' }));
  t.throws(check(inst('a', {}), { ...cfg, 'restricted.containers.privilege': 'isolated' }), /"security.idmap.isolated" must be set to "true"/);
  t.throws(check(inst('a', { 'security.syscalls.intercept.mknod': 'true' })), /Container syscall interception is forbidden/);
  t.throws(check(inst('a', { 'security.syscalls.intercept.sched_setscheduler': 'true' })), /Use of low-level config/);
  t.throws(check(inst('a', {}, { ...root, g: { type: 'gpu' } })), { message: 'Invalid device "g" on container "a" of project "p": GPU devices are forbidden' });
  t.throws(check(inst('a', {}, { ...root, n: { type: 'nic', nictype: 'bridged', parent: 'br0' } })), /Only managed network devices are allowed/);
  t.doesNotThrow(check(inst('a', {}, { ...root, n: { type: 'nic', network: 'incusbr0' } })));
  t.throws(check(inst('a', {}, { ...root, n: { type: 'nic', network: 'other' } }), { ...cfg, 'restricted.networks.access': 'incusbr0' }), /Network not allowed in project/);
  t.throws(check(inst('a', {}, { ...root, h: { type: 'disk', source: '/srv', path: '/srv' } })), /Attaching disks not backed by a pool is forbidden/);
  t.doesNotThrow(check(inst('a', {}, { ...root, v: { type: 'disk', source: 'vol', pool: 'p1', path: '/srv' } })));
  t.throws(check(inst('a'), { ...cfg, 'restricted.storage-pools.access': 'p2' }), /Storage pool "p1" is not accessible from this project/);

  t.throws(() => checkRestrictions('p', cfg, [], [{ name: 'pr', config: { 'security.nesting': 'true' }, devices: {} }]), {
    message: 'Invalid value "true" for config "security.nesting" on profile "pr" of project "p": Container nesting is forbidden',
  });

  const uids = parseHostIdRanges('1000-1999', 'uid');
  const gids = parseHostIdRanges('1000-1999,5000', 'gid');
  t.ok(hostIdsCoveredBy({ isUid: true, isGid: true, hostId: 1000, nsId: 0, range: 1000 }, uids, gids));
  t.notOk(hostIdsCoveredBy({ isUid: true, isGid: false, hostId: 1500, nsId: 0, range: 501 }, uids, gids));
  t.notOk(hostIdsCoveredBy({ isUid: false, isGid: true, hostId: 5000, nsId: 0, range: 2 }, uids, gids));
  const idmapCfg = { ...cfg, 'restricted.idmap.uid': '1000-1999', 'restricted.idmap.gid': '1000-1999' };
  t.doesNotThrow(check(inst('a', { 'raw.idmap': 'both 1000 0' }), idmapCfg));
  t.throws(check(inst('a', { 'raw.idmap': 'both 1000 0\nuid 3000 1' }), idmapCfg), { message: 'Use of low-level "raw.idmap" element 1 on container "a" of project "p" is forbidden' });

  t.ok(diskPathAllowed({}, '/anything'));
  t.ok(diskPathAllowed({ 'restricted.devices.disk.paths': '/srv,/data' }, '/data/x/../y'));
  t.notOk(diskPathAllowed({ 'restricted.devices.disk.paths': '/srv' }, '/srvx'), 'whole path components only');
  t.notOk(diskPathAllowed({ 'restricted.devices.disk.paths': '/srv' }, '/srv/../etc'));
  t.notOk(storagePoolAllowed({ 'limits.disk.pool.p1': '0' }, 'p1'), 'a zero pool limit hides the pool');
  t.equal(snapshotCreationProblem('p', cfg), 'Project "p" doesn\'t allow for snapshot creation');
  t.equal(snapshotCreationProblem('p', { ...cfg, 'restricted.snapshots': 'allow' }), null);
  t.equal(snapshotCreationProblem('p', { 'restricted.snapshots': 'block' }), null, 'only when restricted');
});
