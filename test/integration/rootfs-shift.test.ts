/**
 * A container's rootfs shifted on disk, as Incus does without idmapped
 * mounts (INCUS_IDMAPPED_MOUNTS_DISABLE=1, which the daemon honours): owned
 * by the host range after create; remapped at start when the map changes
 * (privileged: back to 0), which security.protection.shift refuses; the
 * map on disk recorded in volatile.last_state.idmap; a published image
 * carries container ids, not host ones.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { ok } from './lib/vm';

process.env.INCUS_IDMAPPED_MOUNTS_DISABLE = '1';

t.test('rootfs shifted on disk without idmapped mounts', async (t) => {
  const d = await withDaemon(t);
  const rootfs = join(d.dir, 'containers', 'c1', 'rootfs');
  const owner = (): string => {
    const st = statSync(rootfs);
    return `${st.uid}:${st.gid}`;
  };
  await ok(t, d, ['init', 'busybox', 'c1']);
  const base = statSync(rootfs).uid;
  t.ok(base > 0, 'shifted to the host range at create');
  t.match(await ok(t, d, ['config', 'get', 'c1', 'volatile.last_state.idmap']), `"Hostid":${base}`);

  await ok(t, d, ['publish', 'c1', '--alias', 'pub']);
  const out = join(d.dir, 'export');
  await ok(t, d, ['image', 'export', 'pub', out]);
  const file = readdirSync(d.dir).find((f) => f.startsWith('export'));
  const list = spawnSync('tar', ['-tvf', join(d.dir, file ?? 'export'), '--numeric-owner', 'rootfs/bin/busybox'], { encoding: 'utf8' });
  t.match(list.stdout, / 0\/0 /, `the image holds container ids: ${list.stdout}${list.stderr}`);

  await ok(t, d, ['config', 'set', 'c1', 'security.protection.shift=true', 'security.privileged=true']);
  const refused = await d.cli(['start', 'c1']);
  t.not(refused.code, 0);
  t.match(refused.stderr, 'Failed to handle idmapped storage: Instance has filesystem shifting protection enabled');
  t.equal(owner(), `${base}:${base}`, 'left as it was');

  await ok(t, d, ['config', 'set', 'c1', 'security.protection.shift=false']);
  await ok(t, d, ['start', 'c1']);
  t.equal(owner(), '0:0', 'privileged: unshifted');
  t.equal((await ok(t, d, ['config', 'get', 'c1', 'volatile.last_state.idmap'])).trim(), '[]');
  await ok(t, d, ['stop', 'c1', '--force']);

  await ok(t, d, ['config', 'set', 'c1', 'security.privileged=false']);
  await ok(t, d, ['start', 'c1']);
  t.equal(owner(), `${base}:${base}`, 'unprivileged again: shifted back');
  await ok(t, d, ['delete', 'c1', '--force']);
});
