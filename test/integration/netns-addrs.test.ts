/**
 * `incusd-helper netns-addrs`: interfaces of many network namespaces in one
 * run, answers in the order asked, also when a large batch is split over
 * two processes. The namespaces are this test's own: a process it starts
 * with `unshare -n` (only `lo` inside) and the test process itself.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { runHelper } from '../../lib/native/helper';
import { netnsInterfaces } from '../../lib/native/netns';

interface Row {
  pid: number;
  interfaces?: Record<string, unknown>;
  error?: string;
}

async function lonelyNamespace(t: Test): Promise<number> {
  const child = spawn('unshare', ['-n', 'sleep', '300'], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // unshare execs sleep in the same process once the namespace exists.
  for (let i = 0; i < 100; i++) {
    const m = await netnsInterfaces([child.pid!]);
    const names = Object.keys(m.get(child.pid!) ?? {});
    if (names.length === 1 && names[0] === 'lo') return child.pid!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the unshared process never showed a namespace with only lo');
}

t.test('answers follow the order of the PIDs, across the split of a large batch', async (t) => {
  const lonely = await lonelyNamespace(t);
  const mine = Object.keys((await netnsInterfaces([process.pid])).get(process.pid) ?? {});
  t.ok(mine.length > 1, `the test's namespace has more than lo: ${mine.join(', ')}`);

  // 151 PIDs: above the split threshold, odd so the halves differ in size.
  const pids = Array.from({ length: 151 }, (_, i) => (i % 3 === 0 ? lonely : process.pid));
  pids.push(2147483646); // no such process: an error entry, not a failed run
  const res = await runHelper(['netns-addrs', ...pids.map(String)], { op: 'netns-addrs' });
  t.equal(res.status, 0, res.stderr);
  const rows = JSON.parse(res.stdout) as Row[];
  t.equal(rows.length, pids.length, 'one answer per PID');
  const wrong = rows.filter((r, i) => {
    if (r.pid !== pids[i]) return true;
    if (i === pids.length - 1) return !/^ENOENT /.test(r.error ?? '');
    const names = Object.keys(r.interfaces ?? {}).sort();
    return pids[i] === lonely ? names.join() !== 'lo' : names.join() !== [...mine].sort().join();
  });
  t.same(wrong, [], 'every answer is for its own PID and namespace');
});
