/**
 * A reboot asked for inside the container (busybox `reboot`) brings it back
 * with a new init. liblxc 5.0.2 mounts the rootfs again from inside the user
 * namespace on that path, so the 0100 volume directory must belong to the
 * container's root while it runs (issue 09: host-exposure modes).
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('reboot inside an unprivileged container restarts it', async (t) => {
  const d = await withDaemon(t);
  const l = await d.cli(['launch', 'busybox', 'rb']);
  t.equal(l.code, 0, `launch: ${l.stderr}`);
  const before = (await d.client.getInstanceState('rb')).pid;
  t.ok(before > 0, 'running');
  await d.cli(['exec', 'rb', '--', 'reboot']);
  const st = await until(
    () => d.client.getInstanceState('rb'),
    (s) => s.status === 'Running' && s.pid > 0 && s.pid !== before,
    20_000,
  );
  t.equal(st.status, 'Running', 'running again');
  t.not(st.pid, before, 'with a new init');
  const e = await d.cli(['exec', 'rb', '--', 'true']);
  t.equal(e.code, 0, `exec after the reboot: ${e.stderr}`);
  const del = await d.cli(['delete', '-f', 'rb']);
  t.equal(del.code, 0, `delete: ${del.stderr}`);
});
