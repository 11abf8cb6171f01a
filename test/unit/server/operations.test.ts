import t from 'tap';
import { EventBus } from '../../../lib/server/operations/event-bus';
import { OperationRegistry } from '../../../lib/server/operations/registry';
import type { Operation } from '../../../lib/api/operation';

t.test('operations run, report events, and can be waited on and cancelled', async (t) => {
  const bus = new EventBus();
  const seen: Operation[] = [];
  bus.subscribe(['operation'], null, (ev) => seen.push(ev.metadata as Operation));
  const ops = new OperationRegistry(bus);

  const ok = ops.start({ description: 'ok', run: async () => ({ answer: 42 }) });
  t.equal(ok.status, 'Running');
  const done = await ops.wait(ok.id, -1);
  t.equal(done.status, 'Success');
  t.equal(done.status_code, 200);
  t.same(done.metadata, { answer: 42 });

  const bad = ops.start({ description: 'bad', run: async () => { throw new Error('boom'); } });
  const failed = await ops.wait(bad.id, -1);
  t.equal(failed.status, 'Failure');
  t.equal(failed.err, 'boom');

  const slow = ops.start({
    description: 'slow',
    cancellable: true,
    run: (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve())),
  });
  const early = await ops.wait(slow.id, 0.05);
  t.equal(early.status, 'Running', 'wait with a timeout returns the running state');
  ops.cancel(slow.id);
  t.equal((await ops.wait(slow.id, -1)).status, 'Cancelled');
  t.throws(() => ops.cancel(ok.id), /finished/);
  t.ok(seen.some((o) => o.id === ok.id && o.status === 'Success'), 'events carry the final state');
  await t.rejects(ops.wait('nope', 1), /not found/);
});

t.test('events of other cluster members reach only the subscribers that asked for them', async (t) => {
  const bus = new EventBus('m1');
  const internal: string[] = [];
  const client: string[] = [];
  bus.subscribe(['lifecycle'], null, (ev) => internal.push(ev.location));
  bus.subscribe(['lifecycle'], 'default', (ev) => client.push(ev.location), { relayed: true });
  bus.lifecycle('profile-created', '/1.0/profiles/p1');
  const remote = { type: 'lifecycle' as const, timestamp: '2026-01-01T00:00:00Z', metadata: { action: 'instance-started' }, location: 'm3', project: 'default' };
  bus.relay(remote);
  bus.relay({ ...remote, project: 'other' });
  bus.relay({ ...remote, type: 'logging' });
  t.same(internal, ['m1'], "the daemon's own watchers see local events only");
  t.same(client, ['m1', 'm3'], 'a client sees both, filtered by project and type, location kept');
});
