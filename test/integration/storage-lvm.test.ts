/**
 * The lvm driver on a thin pool over a loop file the daemon creates:
 * volumes, thin snapshots, restore, quotas by resize. Needs device-mapper
 * in the kernel; skipped where /dev/mapper/control is unusable.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';

const dm = spawnSync('dmsetup', ['version'], { encoding: 'utf8' });
const lvmOk = spawnSync('lvcreate', ['--version']).status === 0;
const skip = !lvmOk ? 'lvm2 is not installed' : dm.status !== 0 ? 'no device-mapper in this kernel (/dev/mapper/control unusable)' : false;

function sh(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' } });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

t.test('lvm thin pool on a loop file: volumes, snapshots, restore', { skip }, async (t) => {
  const d = await withDaemon(t, { init: false });
  const { LvmDriver } = await import('../../lib/server/storage/drivers/lvm');
  const drv = new LvmDriver();
  const vg = `incustest${process.pid}`;
  const mountPath = join(d.dir, 'storage-pools', 'lv1');
  const spec = { name: 'lv1', mountPath, config: drv.fillPoolConfig({ name: 'lv1', mountPath, config: { size: '1GiB', 'lvm.vg_name': vg, 'volume.size': '64MiB' } }) };
  try {
    await drv.createPool(spec);
    t.equal(sh(['vgs', '--noheadings', '-o', 'vg_name', vg]).out.trim(), vg, 'volume group made');
    await drv.createVolume(spec, 'custom', 'v1');
    const path = drv.volumePath(spec, 'custom', 'v1');
    writeFileSync(join(path, 'f'), 'one\n');
    await drv.createSnapshot(spec, 'custom', 'v1', 's1');
    t.equal(readFileSync(join(drv.snapshotPath(spec, 'custom', 'v1', 's1'), 'f'), 'utf8'), 'one\n', 'snapshot content');
    writeFileSync(join(path, 'f'), 'two\n');
    await drv.restoreSnapshot(spec, 'custom', 'v1', 's1');
    t.equal(readFileSync(join(path, 'f'), 'utf8'), 'one\n', 'restored');
    await drv.setVolumeQuota(spec, 'custom', 'v1', 128 * 2 ** 20);
    t.match(sh(['lvs', '--noheadings', '--units', 'm', '-o', 'lv_size', `${vg}/custom_v1`]).out, /128/, 'resized');
    await drv.deleteSnapshot(spec, 'custom', 'v1', 's1');
    await drv.renameVolume(spec, 'custom', 'v1', 'v2');
    t.ok(existsSync(join(drv.volumePath(spec, 'custom', 'v2'), 'f')), 'renamed and mounted');
    await drv.deleteVolume(spec, 'custom', 'v2');
  } finally {
    await drv.deletePool(spec).catch(() => undefined);
    const img = spec.config.source!;
    for (const line of sh(['losetup', '-j', img]).out.split('\n')) {
      const dev = line.split(':')[0]!.trim();
      if (dev.startsWith('/dev/loop')) sh(['losetup', '-d', dev]);
    }
    rmSync(img, { force: true });
  }
});
