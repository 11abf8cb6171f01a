/** $INCUS_DIR/<type>-snapshots/<name>: where the link lives and how it follows the pool's folder (instance/snapshot-link.ts). */
import t from 'tap';
import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeSnapshotLink, snapshotLinkPath, syncSnapshotLink } from '../../../lib/server/instance/snapshot-link';
import { removeSnapshotParentIfEmpty } from '../../../lib/server/storage/modes';

function scratch(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snaplink-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const isLink = (p: string): boolean => {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

t.test('link paths as Incus names them', async (t) => {
  t.equal(snapshotLinkPath('/var/lib/incus', 'container', 'default', 'c1'), '/var/lib/incus/containers-snapshots/c1');
  t.equal(snapshotLinkPath('/var/lib/incus', 'container', 'p1', 'c1'), '/var/lib/incus/containers-snapshots/p1_c1');
  t.equal(snapshotLinkPath('/var/lib/incus', 'virtual-machine', 'default', 'v1'), '/var/lib/incus/virtual-machines-snapshots/v1');
  t.throws(() => snapshotLinkPath('/var/lib/incus', 'container', 'default', '..'), 'never outside its folder');
});

t.test('the link follows the pool folder: made, kept, retargeted, removed', async (t) => {
  const dir = scratch(t);
  const links = join(dir, 'containers-snapshots');
  mkdirSync(links);
  const link = join(links, 'c1');
  const target = join(dir, 'pool', 'containers-snapshots', 'c1');

  await syncSnapshotLink(link, target);
  t.notOk(isLink(link), 'no link while the pool has no folder');

  mkdirSync(join(target, 'snap0'), { recursive: true });
  await syncSnapshotLink(link, target);
  t.equal(readlinkSync(link), target);
  await syncSnapshotLink(link, target);
  t.equal(readlinkSync(link), target, 'a second sync leaves it as it is');

  const other = join(dir, 'pool2', 'containers-snapshots', 'c1');
  mkdirSync(other, { recursive: true });
  await syncSnapshotLink(link, other);
  t.equal(readlinkSync(link), other, 'a link to another pool is replaced');

  rmSync(other, { recursive: true });
  await syncSnapshotLink(link, other);
  t.notOk(isLink(link), 'removed once the folder is gone');

  writeFileSync(link, 'not a link');
  await removeSnapshotLink(link);
  t.equal(lstatSync(link).isFile(), true, 'anything but a link is left alone');
});

t.test("the pool's snapshot folder goes with its last snapshot", async (t) => {
  const pool = scratch(t);
  const parent = join(pool, 'containers-snapshots', 'c1');
  mkdirSync(join(parent, 'snap0'), { recursive: true });
  await removeSnapshotParentIfEmpty(pool, 'container', 'c1');
  t.ok(lstatSync(parent).isDirectory(), 'kept while a snapshot is left');
  rmdirSync(join(parent, 'snap0'));
  await removeSnapshotParentIfEmpty(pool, 'container', 'c1');
  t.throws(() => lstatSync(parent), 'removed when empty');
  await removeSnapshotParentIfEmpty(pool, 'container', 'c1');
  t.pass('a missing folder is no error');
});
