/** Pool and volume directory modes (storage/modes.ts) and who owns a running instance's volume directory. */
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePoolDirs, fixPoolModes, volumeDirMode } from '../../../lib/server/storage/modes';
import { hostRootUid } from '../../../lib/server/instance/drivers/lxc/volume-owner';

const mode = (p: string): number => statSync(p).mode & 0o7777;

function pool(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'modes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'p');
}

t.test('a new pool: containers traversable, everything else root-only', async (t) => {
  const p = pool(t);
  await ensurePoolDirs(p);
  t.equal(mode(p), 0o711);
  t.equal(mode(join(p, 'containers')), 0o711);
  t.equal(mode(join(p, 'containers-snapshots')), 0o711);
  for (const d of ['custom', 'custom-snapshots', 'images', 'images-snapshots', 'virtual-machines', 'virtual-machines-snapshots']) {
    t.equal(mode(join(p, d)), 0o700, d);
  }
  t.equal(volumeDirMode('container'), 0o100);
  t.equal(volumeDirMode('virtual-machine'), 0o100);
  t.equal(volumeDirMode('custom'), 0o711);
  t.equal(volumeDirMode('image'), 0o711);
});

t.test('an older pool is closed up at start; custom volumes keep their own mode', async (t) => {
  const p = pool(t);
  for (const d of ['containers/c1/rootfs', 'containers-snapshots/c1/snap0/rootfs', 'custom/v', 'custom-snapshots/v/s', 'images/fp']) {
    mkdirSync(join(p, d), { recursive: true });
  }
  for (const d of ['', 'containers', 'containers/c1', 'containers-snapshots/c1', 'containers-snapshots/c1/snap0', 'custom', 'custom/v', 'custom-snapshots/v', 'images']) {
    chmodSync(join(p, d), 0o755);
  }
  await fixPoolModes(p);
  t.equal(mode(p), 0o711);
  t.equal(mode(join(p, 'containers/c1')), 0o100, 'instance volume');
  t.equal(mode(join(p, 'containers-snapshots/c1')), 0o700, 'snapshot folder');
  t.equal(mode(join(p, 'containers-snapshots/c1/snap0')), 0o100, 'instance snapshot');
  t.equal(mode(join(p, 'custom')), 0o700);
  t.equal(mode(join(p, 'custom/v')), 0o755, 'custom volume: initial.mode is its own');
  t.equal(mode(join(p, 'custom-snapshots/v')), 0o700);
  t.equal(mode(join(p, 'images')), 0o700);
  t.equal(mode(join(p, 'containers/c1/rootfs')), 0o755, 'content untouched');
});

t.test('the host uid of container root', async (t) => {
  t.equal(hostRootUid(null), 0, 'privileged');
  const map = (hostId: number, nsId: number, range: number, isUid = true) => ({ isUid, isGid: !isUid, hostId, nsId, range });
  t.equal(hostRootUid([map(1000000, 0, 65536), map(2000000, 0, 65536, false)]), 1000000);
  t.equal(hostRootUid([map(1000, 1000, 1), map(1000000, 0, 1000)]), 1000000, 'raw.idmap hole first');
  t.equal(hostRootUid([map(5000, 0, 1), map(1000001, 1, 999)]), 5000, 'root mapped on its own');
});
