/**
 * Events across a three-member cluster (issue 20): a client of any member
 * sees the lifecycle and operation events of every member, each once, with
 * the member's name as location; and a member that restarts is followed
 * again (the other members' links to it reconnect).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Event, LifecycleEvent } from '../../lib/api/event';
import { ClusterTestbed } from './lib/cluster-testbed';
import { clusterCli, formCluster } from './lib/cluster-cli';
import { ROOT } from './lib/daemon';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds, calling `poke` now and then (a link may not be up yet when the first poke happens). */
async function pokeUntil(what: string, poke: () => Promise<unknown>, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await poke();
    for (let i = 0; i < 20 && !cond(); i++) await sleep(50);
  }
}

/** The lifecycle events seen with this action on this source. */
const lifecycleOf = (seen: Event[], action: string, source: string): Event<LifecycleEvent>[] =>
  (seen as Event<LifecycleEvent>[]).filter((e) => e.type === 'lifecycle' && e.metadata.action === action && e.metadata.source === source);

t.test('every member sees every member’s events once', async (t: Test) => {
  const tb = await ClusterTestbed.start(t, 3);
  const cli = clusterCli(t, tb);
  const { run, ok } = cli;
  t.teardown(async () => {
    for (const name of ['c1', 'c2']) await run(1, ['delete', '-f', name]);
  });

  await formCluster(cli, 3);

  // Clients of m1 and m2, on their unix sockets.
  const seen1: Event[] = [];
  const seen2: Event[] = [];
  for (const [i, seen] of [[1, seen1], [2, seen2]] as const) {
    const stream = await tb.member(i).client.events(['lifecycle']);
    await stream.ready;
    stream.on((e) => seen.push(e));
    t.teardown(() => stream.close());
  }

  // The links come up within a few seconds of the joins: wait until m3's events reach both.
  let probe = 0;
  await pokeUntil(
    'a profile change on m3 seen on m1 and m2',
    () => ok(3, ['profile', 'set', 'default', `user.probe=${++probe}`]),
    () => [seen1, seen2].every((s) => s.some((e) => e.location === 'm3')),
  );

  // A member's own events: once on its own stream, once on the other's.
  await ok(1, ['profile', 'create', 'p1']);
  await sleep(1_500);
  for (const [name, seen] of [['m1', seen1], ['m2', seen2]] as const) {
    const created = lifecycleOf(seen, 'profile-created', '/1.0/profiles/p1');
    t.equal(created.length, 1, `profile-created of m1 seen once on ${name}`);
    t.equal(created[0]?.location, 'm1', `with location m1 on ${name}`);
  }

  // An instance launched on m3 through m1.
  await ok(1, ['launch', 'busybox', 'c1', '--target', 'm3']);
  await sleep(1_500);
  for (const action of ['instance-created', 'instance-started']) {
    const got = lifecycleOf(seen1, action, '/1.0/instances/c1');
    t.equal(got.length, 1, `${action} of c1 seen once on m1`);
    t.equal(got[0]?.location, 'm3', `${action} comes from m3`);
    t.equal(lifecycleOf(seen2, action, '/1.0/instances/c1').length, 1, `${action} of c1 seen once on m2`);
  }

  // `incus monitor` on m2 sees an operation of m1.
  const monitor = startMonitor(t, tb.member(2).dir, ['--type=operation', '--format=json']);
  await sleep(1_000);
  await ok(1, ['create', 'busybox', 'c2', '--target', 'm1']);
  await pokeUntil('an operation event of m1 on m2', () => sleep(100), () => monitor.events().some((e) => e.location === 'm1'), 10_000);
  const ops = monitor.events();
  t.ok(ops.every((e) => e.type === 'operation'), 'only operation events');
  t.ok(ops.some((e) => e.location === 'm1' && /Creating instance/.test(String((e.metadata as { description?: string }).description))), 'the creation operation of m1');
  const keys = ops.map((e) => JSON.stringify([e.location, (e.metadata as { id?: string }).id, (e.metadata as { status?: string }).status, (e.metadata as { updated_at?: string }).updated_at]));
  t.equal(new Set(keys).size, keys.length, 'no operation event twice');
  monitor.proc.kill('SIGINT');
  await monitor.exited;

  // m3's daemon restarts: m1 follows it again.
  await tb.kill(3);
  await tb.restart(3);
  const before = seen1.length;
  await pokeUntil(
    'a profile change on m3 seen on m1 after its restart',
    () => ok(3, ['profile', 'set', 'default', `user.probe=${++probe}`]),
    () => seen1.slice(before).some((e) => e.location === 'm3'),
  );
  const mark = seen1.length;
  await ok(1, ['stop', 'c1', '--force']);
  await sleep(1_500);
  const stopped = lifecycleOf(seen1.slice(mark), 'instance-stopped', '/1.0/instances/c1');
  t.equal(stopped.length, 1, 'instance-stopped of c1 seen once on m1 after m3 restarted');
  t.equal(stopped[0]?.location, 'm3', 'from m3');
});

interface Monitor {
  proc: ChildProcess;
  events: () => Event[];
  exited: Promise<number | null>;
}

/** `incus monitor` against a member's unix socket (killed at teardown if still running). */
function startMonitor(t: Test, incusDir: string, args: string[]): Monitor {
  const conf = mkdtempSync(join(tmpdir(), 'incus-monitor-conf-'));
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'incus'), 'monitor', ...args], {
    env: { ...process.env, INCUS_DIR: incusDir, INCUS_SOCKET: '', INCUS_CONF: conf, INCUS_REMOTE: '', INCUS_PROJECT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const events = (): Event[] =>
    out
      .split('\n')
      .slice(0, -1) // the last piece is a line still coming (or '')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Event);
  return { proc, events, exited };
}
