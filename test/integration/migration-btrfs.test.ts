/**
 * Migration between two daemons whose pools are btrfs (loop files the
 * daemons create): btrfs ↔ btrfs negotiates send/receive (the snapshots
 * arrive as received subvolumes, a refresh sends deltas), btrfs ↔ dir
 * falls back to rsync in both directions.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { clientFor, listen, ok } from './lib/two-servers';

/** The transports the daemon logged for instance `name` (newest last), as "side:TYPE". */
function negotiated(d: TestDaemon, name: string): string[] {
  const log = readFileSync(join(d.dir, 'incusd.log'), 'utf8');
  const out: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('msg="Migration transport negotiated"') || !line.includes(`instance="${name}"`)) continue;
    out.push(`${/side="(\w+)"/.exec(line)?.[1]}:${/type="(\w+)"/.exec(line)?.[1]}`);
  }
  return out;
}

/** The "Received UUID" btrfs keeps on a subvolume made by `btrfs receive` ('-' otherwise). */
function receivedUuid(path: string): string {
  const r = spawnSync('btrfs', ['subvolume', 'show', path], { encoding: 'utf8' });
  return /Received UUID:\s*(\S+)/.exec(r.stdout ?? '')?.[1] ?? `(${r.stderr.trim()})`;
}

const writtenBytes = (pid: number): number => Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);

if (spawnSync('mkfs.btrfs', ['--version']).status !== 0) {
  t.pass('skipped: no btrfs-progs (mkfs.btrfs) on this host', { skip: true });
} else {
  t.test('btrfs ↔ btrfs uses send/receive, btrfs ↔ dir falls back to rsync', async (t) => {
    const a = await withDaemon(t);
    const b = await withDaemon(t);
    await listen(a);
    const bAddr = (await listen(b)).address;
    const incus = await clientFor(t, a, b, bAddr);
    ok(t, await incus(['storage', 'create', 'bt', 'btrfs', 'size=1GiB']), 'btrfs pool on a');
    ok(t, await incus(['storage', 'create', 'b:bt', 'btrfs', 'size=1GiB']), 'btrfs pool on b');

    ok(t, await incus(['launch', 'busybox', 'c1', '-s', 'bt']), 'launch c1 on btrfs');
    t.equal(a.attach('c1', ['sh', '-c', 'echo one > /root/data && dd if=/dev/urandom of=/root/blob bs=1M count=4 2>/dev/null']).code, 0, 'write data');
    ok(t, await incus(['snapshot', 'create', 'c1', 's1']), 'snapshot s1');
    t.equal(a.attach('c1', ['sh', '-c', 'echo two > /root/data']).code, 0, 'change data');
    ok(t, await incus(['snapshot', 'create', 'c1', 's2']), 'snapshot s2');

    // btrfs → btrfs: send/receive, negotiated by both sides.
    const pid = a.pid;
    let at = writtenBytes(pid);
    ok(t, await incus(['copy', 'c1', 'b:c1', '--stateless', '--storage', 'bt']), 'copy to b on btrfs');
    const first = writtenBytes(pid) - at;
    t.same(negotiated(a, 'c1'), ['source:BTRFS'], 'the source sent with btrfs send');
    t.same(negotiated(b, 'c1'), ['target:BTRFS'], 'the target received with btrfs receive');
    const snapDir = join(b.dir, 'storage-pools', 'bt', 'containers-snapshots', 'c1');
    t.match(receivedUuid(join(snapDir, 's1')), /^[0-9a-f-]{36}$/, 'snapshot s1 is a received subvolume');
    t.match(receivedUuid(join(snapDir, 's2')), /^[0-9a-f-]{36}$/, 'snapshot s2 is a received subvolume');
    t.equal((await incus(['snapshot', 'list', 'b:c1', '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\n', 'snapshots listed on the target');
    ok(t, await incus(['start', 'b:c1']), 'start the copy');
    t.equal((await incus(['exec', 'b:c1', '--', 'cat', '/root/data'])).stdout, 'two\n', 'the copy has the data');
    t.equal((await incus(['exec', 'b:c1', '--', 'sh', '-c', 'touch /root/new && echo ok'])).stdout, 'ok\n', 'the copy is writable');
    ok(t, await incus(['stop', '-f', 'b:c1']), 'stop the copy');

    // A refresh sends deltas against the snapshots the target received before.
    t.equal(a.attach('c1', ['sh', '-c', 'echo three > /root/data']).code, 0, 'change one file');
    ok(t, await incus(['snapshot', 'create', 'c1', 's3']), 'snapshot s3');
    at = writtenBytes(pid);
    ok(t, await incus(['copy', 'c1', 'b:c1', '--refresh']), 'copy --refresh');
    const again = writtenBytes(pid) - at;
    t.comment(`btrfs refresh: first copy ${first} bytes written by the source, refresh ${again} bytes (${((100 * again) / first).toFixed(1)}%)`);
    t.same(negotiated(a, 'c1'), ['source:BTRFS', 'source:BTRFS'], 'the refresh went by btrfs send');
    t.ok(again < first / 10, `refresh under 10% of the first copy (${again} of ${first})`);
    t.equal((await incus(['snapshot', 'list', 'b:c1', '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\ns3\n', 'the new snapshot arrived');
    ok(t, await incus(['start', 'b:c1']), 'start the refreshed copy');
    t.equal((await incus(['exec', 'b:c1', '--', 'cat', '/root/data'])).stdout, 'three\n', 'the changed file arrived');

    // A snapshot as the source: its own content, sent with btrfs send.
    ok(t, await incus(['copy', 'c1/s1', 'b:from-s1', '--storage', 'bt']), 'copy snapshot s1 to b');
    t.same(negotiated(b, 'from-s1'), ['target:BTRFS'], 'the snapshot went by btrfs send');
    ok(t, await incus(['start', 'b:from-s1']), 'start the snapshot copy');
    t.equal((await incus(['exec', 'b:from-s1', '--', 'cat', '/root/data'])).stdout, 'one\n', 'the snapshot copy has the snapshot\'s data');

    // An instance-only copy holds no snapshots: its refresh has no parent to delta against (Incus's suite).
    ok(t, await incus(['copy', 'c1', 'b:c1io', '--instance-only', '--stateless', '--storage', 'bt']), 'instance-only copy');
    ok(t, await incus(['snapshot', 'create', 'c1', 's4']), 'snapshot s4, which b has nowhere');
    t.equal(a.attach('c1', ['sh', '-c', 'echo four > /root/data']).code, 0, 'change data again');
    ok(t, await incus(['copy', 'c1', 'b:c1io', '--refresh', '--instance-only', '--stateless']), 'instance-only refresh onto a copy without snapshots');
    t.equal((await incus(['snapshot', 'list', 'b:c1io', '-f', 'csv', '-c', 'n'])).stdout, '', 'still no snapshots there');
    ok(t, await incus(['start', 'b:c1io']), 'start the refreshed instance-only copy');
    t.equal((await incus(['exec', 'b:c1io', '--', 'cat', '/root/data'])).stdout, 'four\n', 'it has the new data');

    // btrfs → dir and dir → btrfs: rsync.
    ok(t, await incus(['copy', 'c1', 'b:c1dir', '--stateless', '--storage', 'default']), 'copy to b on dir');
    t.same(negotiated(b, 'c1dir'), ['target:RSYNC'], 'btrfs → dir fell back to rsync');
    ok(t, await incus(['start', 'b:c1dir']), 'start c1dir');
    t.equal((await incus(['exec', 'b:c1dir', '--', 'cat', '/root/data'])).stdout, 'four\n', 'c1dir has the data');
    t.equal((await incus(['snapshot', 'list', 'b:c1dir', '-f', 'csv', '-c', 'n'])).stdout, 's1\ns2\ns3\ns4\n', 'c1dir has the snapshots');
    ok(t, await incus(['launch', 'busybox', 'd1', '-s', 'default']), 'launch d1 on dir');
    t.equal(a.attach('d1', ['sh', '-c', 'echo dir > /root/data']).code, 0, 'write data to d1');
    ok(t, await incus(['copy', 'd1', 'b:d1', '--stateless', '--storage', 'bt']), 'copy d1 to b on btrfs');
    t.same(negotiated(a, 'd1'), ['source:RSYNC'], 'dir → btrfs went by rsync');
    ok(t, await incus(['start', 'b:d1']), 'start d1 on b');
    t.equal((await incus(['exec', 'b:d1', '--', 'cat', '/root/data'])).stdout, 'dir\n', 'd1 has the data');
  });
}
