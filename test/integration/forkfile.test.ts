/**
 * The forkfile helper on its own (no daemon): a rootfs shifted on disk
 * (served from a fresh user namespace with the container's map), escapes
 * through symlinks and "..", what the helper holds and who it runs as, fds
 * passed both ways, large listings, and its failures.
 */
import t from 'tap';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSession } from '../../lib/native/forkfile';

const BASE = 1000000;
const MAP = `0 ${BASE} 65536`;

/** A small rootfs owned by the shifted root, as the daemon leaves one without idmapped mounts. */
function shiftedRootfs(): string {
  const root = fs.mkdtempSync(join(tmpdir(), 'forkfile-'));
  for (const d of ['etc', 'tmp', 'big']) fs.mkdirSync(join(root, d));
  fs.writeFileSync(join(root, 'etc', 'hostname'), 'shifted\n');
  fs.symlinkSync('/', join(root, 'tmp', 'esc'));
  for (const p of ['', 'etc', 'tmp', 'big', 'etc/hostname', 'tmp/esc']) fs.lchownSync(join(root, p), BASE, BASE);
  return root;
}

function statusField(pid: number, field: string): string {
  return new RegExp(`^${field}:\\s+(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

t.test('a shifted rootfs is served as the container root, and stays closed', async (t) => {
  const root = shiftedRootfs();
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const s = await FileSession.open({ rootfs: root, uidmap: MAP, gidmap: MAP }, { instance: 'test' });
  t.teardown(() => s.close());

  t.equal(statusField(s.helperPid, 'Uid').split(/\s+/)[0], String(BASE), 'the helper runs as the shifted root');
  t.not(fs.readlinkSync(`/proc/${s.helperPid}/ns/user`), fs.readlinkSync('/proc/self/ns/user'), 'in a user namespace of its own');
  t.equal(statusField(s.helperPid, 'NSpid'), String(s.helperPid), 'but in our pid namespace');
  t.same(fs.readdirSync(`/proc/${s.helperPid}/fd`).sort(), ['0', '1', '2', '3'], 'and holds nothing of ours but its socket');

  const st = await s.stat('/etc/hostname');
  t.same([st.uid, st.gid, st.size], [0, 0, 8], 'ids as the container sees them');

  const tag = `forkfile-evil-${process.pid}`;
  t.notOk(fs.existsSync(`/etc/${tag}`));
  const f = await s.open(`/tmp/esc/etc/${tag}`, { write: true, create: true, mode: 0o600, uid: 33, gid: 44 });
  fs.writeSync(f.fd, 'inside\n');
  fs.closeSync(f.fd);
  t.ok(f.created);
  const f2 = await s.open(`/../../../etc/${tag}`, { write: true, append: true });
  fs.writeSync(f2.fd, 'again\n');
  t.same([(await s.fstat(f2.fd)).uid, (await s.fstat(f2.fd)).size], [33, 13], 'fstat of a passed fd');
  await s.fsetstat(f2.fd, { mode: 0o640 });
  fs.closeSync(f2.fd);
  t.notOk(fs.existsSync(`/etc/${tag}`), 'nothing on the host');
  const onDisk = fs.statSync(join(root, 'etc', tag));
  t.same([onDisk.uid, onDisk.gid, onDisk.mode & 0o777], [BASE + 33, BASE + 44, 0o640], 'shifted on disk');
  t.equal(fs.readFileSync(join(root, 'etc', tag), 'utf8'), 'inside\nagain\n');

  await s.mkdir('/d', { mode: 0o2750, uid: 1, gid: 2 });
  const d = await s.lstat('/d');
  t.same([d.mode & 0o7777, d.uid, d.gid], [0o2750, 1, 2]);
  await s.symlink('../etc', '/d/l', { uid: 3 });
  t.equal(await s.readlink('/d/l'), '../etc');
  t.equal((await s.lstat('/d/l')).uid, 3);
  await s.setstat('/d/l', { uid: 4, gid: 4 }, { noFollow: true });
  t.equal((await s.lstat('/d/l')).uid, 4, 'lchown through noFollow');
  t.equal((await s.stat('/d')).uid, 1, 'the link target was not touched');
  await s.rename('/d/l', '/d/m');
  await t.rejects(s.rename('/etc/hostname', '/d/m', { noReplace: true }), { code: 'EEXIST' });
  await s.link('/etc/hostname', '/d/hard');
  t.equal((await s.stat('/d/hard')).nlink, 2);
  await s.setstat('/d/hard', { size: 3, atime: 1000, mtime: 2000 });
  const h = await s.stat('/d/hard');
  t.same([h.size, h.mtime, h.atime], [3, 2000, 1000], 'size and times in one setstat');
  await t.rejects(s.remove('/d', { dirs: true }), { code: 'ENOTEMPTY' });
  await t.rejects(s.rmdir('/d/hard'), { code: 'ENOTDIR' });
  await s.removeAll('/d');
  await t.rejects(s.lstat('/d'), { code: 'ENOENT', path: '/d', syscall: 'lstat' });
  await t.rejects(s.removeAll('/d'), { code: 'ENOENT' });

  // More entries than one reply message holds.
  for (let i = 0; i < 2500; i++) fs.writeFileSync(join(root, 'big', `entry-with-a-longish-name-${i}`), '');
  const list = await s.readdir('/big');
  t.equal(list.length, 2500, 'a listing over several messages');
  t.equal(new Set(list.map((e) => e.name)).size, 2500);

  await t.rejects(s.open('/big', { read: true }), { code: 'EISDIR' });
  const v = await s.statvfs('/');
  t.ok(v.bsize > 0 && v.namemax > 0, 'statvfs');
  const pid = s.helperPid;
  await s.close();
  await t.rejects(s.stat('/'), { code: 'EBADF' }, 'a closed session refuses requests');
  const deadline = Date.now() + 5000;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.notOk(fs.existsSync(`/proc/${pid}`), 'the helper exits when the session closes');
});

t.test('failures', async (t) => {
  await t.rejects(FileSession.open({ rootfs: '/nonexistent-rootfs-for-forkfile' }), { code: 'ENOENT' });
  // A PID that cannot be a process (beyond pid_max).
  await t.rejects(FileSession.open({ pid: 2 ** 22 + 1 }), { code: 'ESRCH' });
  await t.rejects(FileSession.open({ rootfs: 'relative' }), TypeError);
  await t.rejects(FileSession.open({ rootfs: '/', uidmap: 'bad', gidmap: 'bad' }), TypeError);
});
