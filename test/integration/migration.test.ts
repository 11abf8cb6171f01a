/**
 * Instance migration between two daemons on 127.0.0.1 HTTPS: the REST
 * protocol in pull and push mode (the target dials the source's operation,
 * or the source dials the target's), then the CLI's copy and move in pull,
 * push and relay mode with snapshots, refresh and a source killed mid-way.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { clientFor, expectOp, listen, ok, waitOp } from './lib/two-servers';

t.test('REST migration: pull and push between two daemons, snapshots and data arrive, the source is untouched', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  const srcA = await listen(a);
  const srcB = await listen(b);
  ok(t, await a.cli(['launch', 'busybox', 'c1']), 'launch c1');
  t.equal(a.attach('c1', ['sh', '-c', 'echo one > /root/data']).code, 0, 'write data');
  ok(t, await a.cli(['snapshot', 'create', 'c1', 's1']), 'snapshot s1');
  t.equal(a.attach('c1', ['sh', '-c', 'echo two > /root/data']).code, 0, 'change data');
  ok(t, await a.cli(['snapshot', 'create', 'c1', 's2']), 'snapshot s2');
  const c1 = (await a.client.getInstance('c1')) as { config: Record<string, string> };

  // Pull: the source waits with secrets; the target dials its operation.
  const src = await expectOp(a, 'POST', '/1.0/instances/c1', { migration: true, live: false });
  t.same(Object.keys(src.metadata).sort(), ['control', 'fs'], 'source operation metadata holds the secrets');
  const dst = await expectOp(b, 'POST', '/1.0/instances', {
    name: 'c1',
    type: 'container',
    architecture: 'x86_64',
    config: c1.config,
    profiles: ['default'],
    source: { type: 'migration', mode: 'pull', operation: `${srcA.address}/1.0/operations/${src.id}`, websockets: src.metadata, certificate: srcA.certificate },
  });
  const [sOp, dOp] = await Promise.all([waitOp(a, src.id), waitOp(b, dst.id)]);
  t.equal(sOp.status, 'Success', `source operation: ${sOp.err}`);
  t.equal(dOp.status, 'Success', `target operation: ${dOp.err}`);
  ok(t, await b.cli(['start', 'c1']), 'start the copy');
  t.equal(b.attach('c1', ['cat', '/root/data']).out, 'two\n', 'the copy has the data');
  const snaps = await b.cli(['snapshot', 'list', 'c1', '-f', 'csv', '-c', 'n']);
  t.equal(snaps.stdout, 's1\ns2\n', 'snapshots listed on the target');
  const b1 = (await b.client.getInstance('c1')) as { config: Record<string, string> };
  t.not(b1.config['volatile.uuid'], c1.config['volatile.uuid'], 'a new volatile.uuid');
  t.equal(a.attach('c1', ['cat', '/root/data']).out, 'two\n', 'the source runs on with its data');

  // Push: the target waits with secrets; the source dials it.
  const dst2 = await expectOp(b, 'POST', '/1.0/instances', {
    name: 'c2',
    type: 'container',
    architecture: 'x86_64',
    config: {},
    profiles: ['default'],
    source: { type: 'migration', mode: 'push' },
  });
  const src2 = await expectOp(a, 'POST', '/1.0/instances/c1', {
    migration: true,
    instance_only: true,
    target: { operation: `${srcB.address}/1.0/operations/${dst2.id}`, websockets: dst2.metadata, certificate: srcB.certificate },
  });
  const [s2, d2] = await Promise.all([waitOp(a, src2.id), waitOp(b, dst2.id)]);
  t.equal(s2.status, 'Success', `push source: ${s2.err}`);
  t.equal(d2.status, 'Success', `push target: ${d2.err}`);
  t.equal((await b.cli(['snapshot', 'list', 'c2', '-f', 'csv', '-c', 'n'])).stdout, '', 'instance-only: no snapshots');
  ok(t, await b.cli(['start', 'c2']), 'start c2');
  t.equal(b.attach('c2', ['cat', '/root/data']).out, 'two\n', 'c2 has the data');

  // A wrong secret is refused and nothing appears on the target.
  const src3 = await expectOp(a, 'POST', '/1.0/instances/c1', { migration: true });
  const dst3 = await expectOp(b, 'POST', '/1.0/instances', {
    name: 'c3',
    source: { type: 'migration', mode: 'pull', operation: `${srcA.address}/1.0/operations/${src3.id}`, websockets: { control: 'x', fs: 'y' }, certificate: srcA.certificate },
  });
  const d3 = await waitOp(b, dst3.id);
  t.equal(d3.status, 'Failure', 'wrong secret fails');
  t.match(d3.err, /Wrong secret|refused/);
  t.equal((await rawRequest(b.socket, 'GET', '/1.0/instances/c3')).status, 404, 'no c3 on the target');
  await rawRequest(a.socket, 'DELETE', `/1.0/operations/${src3.id}`);
});

/**
 * Bytes the process has written (sockets and pipes included): on the source
 * daemon, what it sent (its rsync children read the files themselves).
 */
const writtenBytes = (pid: number): number => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);

t.test('incus copy/move to another server: pull, push, relay, --refresh, stateful refused, move', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const bAddr = (await listen(b)).address;
  const incus = await clientFor(t, a, b, bAddr);
  ok(t, await incus(['launch', 'busybox', 'c1']), 'launch c1');
  t.equal(a.attach('c1', ['sh', '-c', 'echo one > /root/data && dd if=/dev/urandom of=/root/blob bs=1M count=4 2>/dev/null']).code, 0, 'write data');
  ok(t, await incus(['snapshot', 'create', 'c1', 's1']), 'snapshot s1');
  t.equal(a.attach('c1', ['sh', '-c', 'echo two > /root/data']).code, 0, 'change data');
  ok(t, await incus(['snapshot', 'create', 'c1', 's2']), 'snapshot s2');
  const before = (await a.client.getInstance('c1')) as { config: Record<string, string> };

  // Stateful is the default for a running instance: CRIU's reason comes back, nothing is created.
  const stateful = await incus(['copy', 'c1', 'b:']);
  t.not(stateful.code, 0, 'stateful copy refused');
  t.match(stateful.stderr, /CRIU|criu/);
  t.equal((await incus(['list', 'b:', '-f', 'csv', '-c', 'n'])).stdout, '', 'nothing on b');

  for (const mode of ['pull', 'push', 'relay']) {
    const name = `c1-${mode}`;
    const r = await incus(['copy', 'c1', `b:${name}`, '--stateless', '--mode', mode]);
    ok(t, r, `copy --mode ${mode}`);
    ok(t, await incus(['start', `b:${name}`]), `start b:${name}`);
    const ex = await incus(['exec', `b:${name}`, '--', 'cat', '/root/data']);
    t.equal(ex.stdout, 'two\n', `${mode}: exec on the copy sees the data`);
    t.equal((await incus(['snapshot', 'list', `b:${name}`, '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\n', `${mode}: snapshots listed on the target`);
    const copy = (await b.client.getInstance(name)) as { config: Record<string, string> };
    t.not(copy.config['volatile.uuid'], before.config['volatile.uuid'], `${mode}: a new volatile.uuid`);
    ok(t, await incus(['stop', '-f', `b:${name}`]), `stop b:${name}`);
  }
  // A snapshot copies as an instance of its own, with the snapshot's content.
  ok(t, await incus(['copy', 'c1/s1', 'b:from-s1', '--mode', 'push']), 'copy a snapshot to b');
  t.equal((await incus(['snapshot', 'list', 'b:from-s1', '-f', 'csv', '-c', 'n'])).stdout, '', 'the snapshot copy has no snapshots');
  ok(t, await incus(['start', 'b:from-s1']), 'start the snapshot copy');
  t.equal((await incus(['exec', 'b:from-s1', '--', 'cat', '/root/data'])).stdout, 'one\n', 'the snapshot copy has the snapshot\'s data');
  ok(t, await incus(['stop', '-f', 'b:from-s1']), 'stop the snapshot copy');
  const noName = await incus(['copy', 'c1/s1', 'b:']);
  t.match(noName.stderr, /destination instance name/, 'a snapshot copy needs a target name');
  t.equal((await incus(['exec', 'c1', '--', 'cat', '/root/data'])).stdout, 'two\n', 'the source runs on, untouched');
  t.equal((await incus(['snapshot', 'list', 'c1', '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\n', 'the source keeps its snapshots');

  // --refresh after one changed file and one new snapshot moves a small fraction of the first copy.
  const pid = a.pid;
  let at = writtenBytes(pid);
  ok(t, await incus(['copy', 'c1', 'b:r1', '--stateless']), 'first copy');
  const first = writtenBytes(pid) - at;
  t.equal(a.attach('c1', ['sh', '-c', 'echo three > /root/data']).code, 0, 'change one file');
  ok(t, await incus(['snapshot', 'create', 'c1', 's3']), 'snapshot s3');
  at = writtenBytes(pid);
  ok(t, await incus(['copy', 'c1', 'b:r1', '--refresh']), 'copy --refresh');
  const again = writtenBytes(pid) - at;
  t.comment(`refresh: first copy ${first} bytes written by the source, refresh ${again} bytes (${((100 * again) / first).toFixed(1)}%)`);
  t.ok(first > 4 * 1024 * 1024, 'the first copy carried the data');
  t.ok(again < first / 10, `refresh under 10% of the first copy (${again} of ${first})`);
  t.equal((await incus(['snapshot', 'list', 'b:r1', '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\ns3\n', 'the new snapshot arrived');
  ok(t, await incus(['start', 'b:r1']), 'start b:r1');
  t.equal((await incus(['exec', 'b:r1', '--', 'cat', '/root/data'])).stdout, 'three\n', 'the changed file arrived');

  // move: the source goes only after the target has it; a running instance runs again on the target.
  ok(t, await incus(['move', 'c1', 'b:moved', '--stateless']), 'move --stateless');
  t.equal((await rawRequest(a.socket, 'GET', '/1.0/instances/c1')).status, 404, 'nothing left on the source');
  const ls = await incus(['list', 'b:', '-f', 'csv', '-c', 'ns']);
  t.match(ls.stdout, /^moved,RUNNING$/m, `moved runs on the target (${ls.stdout}${ls.stderr})`);
  t.equal((await incus(['exec', 'b:moved', '--', 'cat', '/root/data'])).stdout, 'three\n', 'moved keeps its data');
  const moved = (await b.client.getInstance('moved')) as { config: Record<string, string> };
  t.equal(moved.config['volatile.uuid'] === undefined, false, 'moved has a uuid');
});

t.test('kill -9 of the source daemon mid-transfer: the source instance is intact, the target has no half instance', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const bAddr = (await listen(b)).address;
  const incus = await clientFor(t, a, b, bAddr);
  ok(t, await incus(['launch', 'busybox', 'big']), 'launch big');
  t.equal(a.attach('big', ['sh', '-c', 'dd if=/dev/urandom of=/root/big bs=1M count=300 2>/dev/null && sync']).code, 0, 'write 300 MiB');
  const copying = incus(['copy', 'big', 'b:', '--stateless']);
  // Wait until data flows into the target, then kill the source daemon outright.
  const deadline = Date.now() + 60_000;
  let flowing = false;
  while (!flowing && Date.now() < deadline) {
    const ops = await rawRequest(b.socket, 'GET', '/1.0/operations?recursion=1');
    const running = ((ops.body.metadata as { running?: { metadata: Record<string, unknown> | null }[] }).running ?? []);
    flowing = running.some((o) => typeof o.metadata?.fs_progress === 'string');
    if (!flowing) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(flowing, 'the transfer was under way');
  await a.signal('SIGKILL');
  const r = await copying;
  t.not(r.code, 0, 'the copy fails');
  // The target's operation ends on its own, undoing what it made.
  const end = Date.now() + 60_000;
  for (;;) {
    const ops = await rawRequest(b.socket, 'GET', '/1.0/operations?recursion=1');
    if (((ops.body.metadata as { running?: unknown[] }).running ?? []).length === 0) break;
    if (Date.now() > end) throw new Error('the target operation did not end');
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal((await rawRequest(b.socket, 'GET', '/1.0/instances/big')).status, 404, 'no instance row on the target');
  const vols = await rawRequest(b.socket, 'GET', '/1.0/storage-pools/default/volumes');
  t.notMatch(JSON.stringify(vols.body.metadata), /big/, 'no volume row on the target');
  t.equal(spawnSync('find', [join(b.dir, 'storage-pools'), '-maxdepth', '3', '-name', 'big'], { encoding: 'utf8' }).stdout, '', 'no volume left on disk');
  await a.start();
  const inst = (await a.client.getInstance('big')) as { status: string };
  t.equal(inst.status, 'Running', 'the source instance still runs');
  t.equal(a.attach('big', ['stat', '-c', '%s', '/root/big']).out, `${300 * 1024 * 1024}\n`, 'its data is whole');
});
