/**
 * Warnings: the host conditions this machine has (AppArmor absent, VMs
 * under TCG) are listed; an instance that fails to autostart raises
 * "Failed to autostart instance" on its entity, which can be acknowledged
 * (hidden from `warning list`, shown with --all), is resolved once the
 * instance starts, and can be deleted; bad status changes are refused.
 */
import t from 'tap';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Warning } from '../../lib/api/warning';
import { hostAccelerator } from '../../lib/server/instance/drivers/qemu/accelerator';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

async function warnings(d: TestDaemon): Promise<Warning[]> {
  return (await rawRequest(d.socket, 'GET', '/1.0/warnings?recursion=1')).body.metadata as Warning[];
}

async function waitFor(d: TestDaemon, pred: (w: Warning) => boolean, ms = 60_000): Promise<Warning | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const found = (await warnings(d)).find(pred);
    if (found || Date.now() > end) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('warnings: host conditions, autostart failure raised, acknowledged, resolved, deleted', async (t) => {
  const d = await withDaemon(t);
  const host = await warnings(d);
  if (!existsSync('/sys/kernel/security/apparmor')) {
    const aa = host.find((w) => w.type === 'AppArmor support has been disabled');
    t.ok(aa, 'AppArmor absent: warned');
    t.equal(aa?.severity, 'low');
    t.equal(aa?.status, 'new');
  }
  if (hostAccelerator().accel === 'tcg') {
    const vm = host.find((w) => w.type === 'Instance type not operational');
    t.match(vm?.last_message ?? '', /TCG/, 'VMs under TCG: warned');
  }
  const urls = (await rawRequest(d.socket, 'GET', '/1.0/warnings')).body.metadata as string[];
  t.same(urls.sort(), host.map((w) => `/1.0/warnings/${w.uuid}`).sort(), 'recursion=0 lists the URLs');

  // An instance whose rootfs is gone fails to autostart after a daemon restart.
  t.equal((await d.cli(['launch', 'busybox', 'c1', '-c', 'boot.autostart=true'])).code, 0, 'launch c1');
  t.equal((await d.cli(['stop', '-f', 'c1'])).code, 0, 'stop c1');
  const rootfs = join(d.dir, 'storage-pools', 'default', 'containers', 'c1', 'rootfs');
  renameSync(rootfs, `${rootfs}.away`);
  await d.signal('SIGTERM');
  await d.start();
  const failed = await waitFor(d, (w) => w.type === 'Failed to autostart instance');
  t.ok(failed, 'the autostart failure is a warning');
  t.equal(failed?.entity_url, '/1.0/instances/c1', 'on the instance');
  t.equal(failed?.project, 'default');
  t.match(failed?.last_message ?? '', /c1/);
  const uuid = failed?.uuid ?? 'none';

  const list = await d.cli(['warning', 'list', '-f', 'csv', '-c', 'utS']);
  t.match(list.stdout, new RegExp(`^${uuid},Failed to autostart instance,NEW$`, 'm'), 'warning list shows it');
  const show = await d.cli(['warning', 'show', uuid]);
  t.match(show.stdout, /entity_url: \/1\.0\/instances\/c1/, 'warning show');
  const fresh = (await warnings(d)).filter((w) => w.status === 'new').length;
  const info = await d.cli(['info']);
  t.equal(info.code, 0, 'incus info');
  t.match(info.stderr, `WARNING: ${fresh} new warning${fresh === 1 ? '' : 's'} (see "incus warning list")`, 'incus info counts the new warnings');
  t.notMatch(info.stdout, /WARNING/, 'stdout stays the server YAML');

  // Status changes: only new and acknowledged.
  const resolved = await rawRequest(d.socket, 'PUT', `/1.0/warnings/${uuid}`, JSON.stringify({ status: 'resolved' }));
  t.equal(resolved.status, 403, 'setting resolved is forbidden');
  const bogus = await rawRequest(d.socket, 'PUT', `/1.0/warnings/${uuid}`, JSON.stringify({ status: 'sleepy' }));
  t.equal(bogus.status, 400, 'an unknown status is a 400');
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/warnings/00000000-0000-0000-0000-000000000000')).status, 404, 'unknown uuid: 404');

  t.equal((await d.cli(['warning', 'ack', uuid])).code, 0, 'warning ack');
  t.notMatch((await d.cli(['warning', 'list', '-f', 'csv', '-c', 'u'])).stdout, uuid, 'acknowledged: hidden from the list');
  t.match((await d.cli(['warning', 'list', '--all', '-f', 'csv', '-c', 'uS'])).stdout, `${uuid},ACKNOWLEDGED`, 'shown with --all');
  const ackedInfo = (await d.cli(['info'])).stderr;
  t.notMatch(ackedInfo, `WARNING: ${fresh} new`, 'incus info: one fewer once acknowledged');
  if (fresh > 1) t.match(ackedInfo, `WARNING: ${fresh - 1} new`);

  // The condition clears: the instance starts, the warning is resolved.
  renameSync(`${rootfs}.away`, rootfs);
  t.equal((await d.cli(['start', 'c1'])).code, 0, 'start c1');
  const after = (await warnings(d)).find((w) => w.uuid === uuid);
  t.equal(after?.status, 'resolved', 'resolved once the instance started');
  t.equal(after?.count, 1);

  t.equal((await d.cli(['warning', 'delete', uuid])).code, 0, 'warning delete');
  t.equal((await rawRequest(d.socket, 'GET', `/1.0/warnings/${uuid}`)).status, 404, 'gone');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0, 'delete c1');
});
