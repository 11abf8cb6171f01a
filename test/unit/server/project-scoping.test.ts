/**
 * Project scoping helpers: on-disk volume names `<project>_<name>` outside
 * the default project (and back), instance profile links resolved in
 * the project's profile project (features.profiles), and lifecycle event
 * sources carrying `?project=`.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LifecycleEvent } from '../../../lib/api/event';
import { openDb } from '../../../lib/server/db';
import { EventBus } from '../../../lib/server/operations/event-bus';
import { parseStorageName, storageName } from '../../../lib/server/storage/volume-names';

t.test('storage names', async (t) => {
  t.equal(storageName('default', 'c1'), 'c1');
  t.equal(storageName('p1', 'c1'), 'p1_c1');
  t.equal(storageName('p1', 'my_vol'), 'p1_my_vol');
  t.same(parseStorageName('c1'), { project: 'default', name: 'c1' });
  t.same(parseStorageName('p1_c1'), { project: 'p1', name: 'c1' });
  t.same(parseStorageName('p1_my_vol'), { project: 'p1', name: 'my_vol' }, 'project names hold no underscore');
  t.same(parseStorageName('_x'), { project: 'default', name: '_x' });
});

t.test('instance profiles link to the profile project', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  await db.transaction(async (tx) => {
    await tx.projects.create({ name: 'shared', description: '', config: { 'features.profiles': 'false' } });
    await tx.projects.create({ name: 'own', description: '', config: { 'features.profiles': 'true' } });
    await tx.profiles.create({ project: 'own', name: 'default', description: '', config: { 'user.x': 'own' }, devices: {} });
  });
  const base = {
    type: 'container' as const, architecture: 'x86_64', ephemeral: false, stateful: false,
    description: '', createdAt: 'now', lastUsedAt: 'never', config: {}, devices: {}, profiles: ['default'],
  };
  await db.transaction((tx) => tx.instances.create({ ...base, project: 'shared', name: 'c1' }));
  await db.transaction((tx) => tx.instances.create({ ...base, project: 'own', name: 'c1' }));
  const users = async (project: string) => db.profiles.usedBy((await db.profiles.get(project, 'default'))!.id);
  t.same(await users('default'), [{ name: 'c1', project: 'shared' }], 'features.profiles=false: default\'s profile');
  t.same(await users('own'), [{ name: 'c1', project: 'own' }], 'features.profiles=true: its own');
  await t.rejects(db.transaction((tx) => tx.instances.create({ ...base, project: 'shared', name: 'c2', profiles: ['nope'] })), /nope/);
});

t.test('lifecycle sources carry ?project= outside default', async (t) => {
  const bus = new EventBus();
  const seen: LifecycleEvent[] = [];
  bus.subscribe(['lifecycle'], null, (ev) => seen.push(ev.metadata as LifecycleEvent));
  bus.lifecycle('instance-created', '/1.0/instances/c1', 'p1');
  bus.lifecycle('instance-created', '/1.0/instances/c1');
  bus.lifecycle('instance-log-retrieved', '/1.0/instances/c1/logs/lxc.log?project=p1', 'p1');
  bus.lifecycle('project-created', '/1.0/projects/p1', 'p1');
  t.same(
    seen.map((e) => [e.source, e.name]),
    [
      ['/1.0/instances/c1?project=p1', 'c1'],
      ['/1.0/instances/c1', 'c1'],
      ['/1.0/instances/c1/logs/lxc.log?project=p1', 'lxc.log'],
      ['/1.0/projects/p1', 'p1'],
    ],
  );
});
