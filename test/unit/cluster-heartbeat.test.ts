/**
 * The offline rule and its wording (Incus's NodeInfo.ToAPI), the
 * cluster.offline_threshold check, and the heartbeat task's pacing.
 */
import t from 'tap';
import { HeartbeatTask, memberHealth, offlineThresholdOf, offlineThresholdProblem, parseHeartbeat } from '../../lib/server/cluster/heartbeat';

t.test('a member is offline once its heartbeat is threshold seconds old', async (t) => {
  const now = new Date('2026-01-02T03:04:30Z');
  t.same(memberHealth('2026-01-02 03:04:20', 20, now), { status: 'Online', message: 'Fully operational' });
  t.same(memberHealth('2026-01-02 03:04:10', 20, now), { status: 'Offline', message: 'No heartbeat for 20s (2026-01-02 03:04:10 +0000)' });
  t.same(memberHealth('2026-01-02 02:03:05', 20, now).message, 'No heartbeat for 1h1m25s (2026-01-02 02:03:05 +0000)');
  t.same(memberHealth('2026-01-02 03:02:30', 20, now).message, 'No heartbeat for 2m0s (2026-01-02 03:02:30 +0000)');
  t.same(memberHealth('2026-01-02 03:04:10', Infinity, now).status, 'Online', 'no threshold: never offline');
  t.equal(parseHeartbeat('2026-01-02T03:04:10+01:00').toISOString(), '2026-01-02T02:04:10.000Z');
});

t.test("cluster.offline_threshold: an integer above 10 (Incus's validator)", async (t) => {
  t.equal(offlineThresholdProblem('11'), null);
  t.equal(offlineThresholdProblem('10'), "Value must be greater than '10'");
  t.equal(offlineThresholdProblem('-5'), "Value must be greater than '10'");
  t.equal(offlineThresholdProblem('1.5'), 'invalid integer');
  t.equal(offlineThresholdOf({}), 20);
  t.equal(offlineThresholdOf({ 'cluster.offline_threshold': '45' }), 45);
});

t.test('the task beats at once, then on its interval, one beat at a time', async (t) => {
  let beats = 0;
  let release: () => void = () => undefined;
  const task = new HeartbeatTask(
    () => {
      beats++;
      return new Promise<void>((r) => (release = r));
    },
    () => undefined,
    20,
  );
  task.start();
  t.equal(beats, 1, 'first beat at start');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(beats, 1, 'no second beat while the first waits');
  release();
  await new Promise((r) => setTimeout(r, 60));
  t.ok(beats >= 2, 'beats again once the first is done');
  task.stop();
  release();
  const stopped = beats;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(beats, stopped, 'no beat after stop');
  t.notOk(task.running);
});
