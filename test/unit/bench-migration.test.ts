/** Pure parts of the container-copy-vs-rsync benchmark: its size, the data files, the side order, the 0.7× verdict. */
import t from 'tap';
import {
  dataFileSizes, mibPerSecond, MIGRATION_SIDES, MIGRATION_TARGET_RATIO, migrationMib, migrationSidesInOrder, migrationVerdict, parseProcStatCpu, tcpFloorNote, whyMissed,
} from '../../bench/cases/migration';

const MIB = 1024 * 1024;

t.test('BENCH_MIGRATION_MIB: 200 when unset, named when invalid', async (t) => {
  t.equal(migrationMib(undefined), 200);
  t.equal(migrationMib(''), 200);
  t.equal(migrationMib('16'), 16);
  t.throws(() => migrationMib('0'), /BENCH_MIGRATION_MIB/);
  t.throws(() => migrationMib('1.5'), RangeError);
});

t.test('data files: a few dozen at most, whole MiB, adding up to the size asked', async (t) => {
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  t.same(dataFileSizes(200), Array(40).fill(5 * MIB));
  t.same(dataFileSizes(3), [MIB, MIB, MIB]);
  const odd = dataFileSizes(203);
  t.equal(odd.length, 40);
  t.equal(sum(odd), 203 * MIB);
  t.same([odd[0], odd[2], odd[3], odd[39]], [6 * MIB, 6 * MIB, 5 * MIB, 5 * MIB]);
});

t.test('sides rotate each round: each goes first once in six rounds', async (t) => {
  t.same(migrationSidesInOrder(0), ['rsync', 'copy', 'copy-uncompressed', 'rsync-tls', 'rsync-tcp', 'rsync-tcp-compressed']);
  t.same(migrationSidesInOrder(1), ['copy', 'copy-uncompressed', 'rsync-tls', 'rsync-tcp', 'rsync-tcp-compressed', 'rsync']);
  t.same(migrationSidesInOrder(3), ['rsync-tls', 'rsync-tcp', 'rsync-tcp-compressed', 'rsync', 'copy', 'copy-uncompressed']);
  t.same(migrationSidesInOrder(6), migrationSidesInOrder(0));
  t.same(new Set([0, 1, 2, 3, 4, 5].map((i) => migrationSidesInOrder(i)[0])), new Set(MIGRATION_SIDES));
});

t.test('the bare-TCP floor: says when it is itself under the target', async (t) => {
  const under = tcpFloorNote('incus copy', 'rsync over bare TCP', 150, 200, 300);
  t.match(under, /^incus copy against rsync over bare TCP: 0\.75× its MiB\/s \(150 vs 200\); .* 0\.67× raw rsync, itself under the 0\.7× target/);
  const over = tcpFloorNote('incus copy', 'rsync over bare TCP', 150, 280, 300);
  t.match(over, /0\.93× raw rsync$/);
  t.notMatch(over, /under the/);
});

t.test('throughput and verdict: the copy over raw rsync, met from the target up', async (t) => {
  t.equal(mibPerSecond(200 * MIB, 2000), 100);
  t.equal(MIGRATION_TARGET_RATIO, 0.7);
  t.same(migrationVerdict(100, 70), { ratio: 0.7, met: true });
  t.same(migrationVerdict(100, 90), { ratio: 0.9, met: true });
  t.same(migrationVerdict(100, 25), { ratio: 0.25, met: false });
});

t.test('/proc/PID/stat CPU: own and reaped children, in seconds, with spaces in the command name', async (t) => {
  const stat = '4242 (node a (b)) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 300 45 20 0 11 0 100 0 0';
  t.same(parseProcStatCpu(stat), { self: 1.75, children: 3.45 });
});

t.test('why a copy missed: the relay cost of each daemon and the cores kept busy, from the figures', async (t) => {
  const why = whyMissed({ relayA: 1.234, relayB: 0.5, busy: 0.815, compressed: true });
  t.match(why, /daemon A still spends 1\.23 and B 0\.50 CPU ms\/MiB/);
  t.match(why, /82% busy/);
  t.match(why, /compresses incompressible data/);
  t.notMatch(whyMissed({ relayA: 1, relayB: 1, busy: 0.5, compressed: false }), /compress/);
});
