import t from 'tap';
import { apiFileType, describeHeaders, goTimeString, isFalseOrEmpty, parsePushHeaders } from '../../../lib/server/instance/files/headers';
import { mapLines } from '../../../lib/server/instance/drivers/lxc/files';
import { longname, modeString } from '../../../lib/server/instance/files/sftp-longname';
import type { FileStat } from '../../../lib/native/forkfile';

const headers = (h: Record<string, string>) => (n: string): string | undefined => h[n];

function stat(mode: number, extra: Partial<FileStat> = {}): FileStat {
  return { mode, uid: 0, gid: 0, nlink: 1, size: 0, atime: 0, mtime: 0, ctime: 0, atimeNsec: 0, mtimeNsec: 0, ...extra };
}

t.test('push headers are parsed as Incus parses them', async (t) => {
  t.same(parsePushHeaders(headers({})), { uid: -1, gid: -1, mode: -1, type: 'file', write: 'overwrite' }, 'defaults');
  t.same(parsePushHeaders(headers({ uid: '1000', gid: '+7', mode: '0644', type: 'directory', write: 'append' })), {
    uid: 1000,
    gid: 7,
    mode: 0o644,
    type: 'directory',
    write: 'append',
  });
  t.equal(parsePushHeaders(headers({ mode: '644' })).mode, 644 & 0o777, 'no leading 0: decimal, masked');
  t.equal(parsePushHeaders(headers({ mode: '04755' })).mode, 0o755, 'set-id bits are dropped');
  t.equal(parsePushHeaders(headers({ mode: '0o644' })).mode, -1, 'must first parse as a decimal integer');
  t.equal(parsePushHeaders(headers({ mode: 'rw' })).mode, -1);
  t.equal(parsePushHeaders(headers({ uid: 'root', gid: '1.5' })).uid, -1);
  t.equal(parsePushHeaders(headers({ gid: '1.5' })).gid, -1);
});

t.test('reply headers describe a file like Incus', async (t) => {
  t.equal(goTimeString(0), '1970-01-01 00:00:00 +0000 UTC');
  t.equal(goTimeString(1700000000), '2023-11-14 22:13:20 +0000 UTC');
  t.same(describeHeaders(stat(0o104755, { uid: 5, gid: 6, mtime: 0 })), {
    'X-Incus-uid': '5',
    'X-Incus-gid': '6',
    'X-Incus-mode': '0755',
    'X-Incus-modified': '1970-01-01 00:00:00 +0000 UTC',
    'X-Incus-type': 'file',
  });
  t.equal(apiFileType(stat(0o040700)), 'directory');
  t.equal(apiFileType(stat(0o120777)), 'symlink');
  t.equal(apiFileType(stat(0o020666)), 'file', 'devices count as files, as in Incus');
  t.ok(isFalseOrEmpty(undefined) && isFalseOrEmpty('') && isFalseOrEmpty('No') && isFalseOrEmpty('0'));
  t.notOk(isFalseOrEmpty('true') || isFalseOrEmpty('1') || isFalseOrEmpty('yes'));
});

t.test('a shifted rootfs maps from volatile.last_state.idmap', async (t) => {
  const json = JSON.stringify([
    { Isuid: true, Isgid: false, Hostid: 1000000, Nsid: 0, Maprange: 65536 },
    { Isuid: false, Isgid: true, Hostid: 2000000, Nsid: 0, Maprange: 65536 },
  ]);
  t.same(mapLines(json), { uidmap: '0 1000000 65536', gidmap: '0 2000000 65536' });
  t.equal(mapLines('[]'), null);
  t.equal(mapLines('not json'), null);
  t.equal(mapLines(JSON.stringify([{ Isuid: true, Hostid: 1, Nsid: 0, Maprange: 1 }])), null, 'both maps are needed');
});

t.test('SFTP longnames look like ls -l', async (t) => {
  t.equal(modeString(0o100644), '-rw-r--r--');
  t.equal(modeString(0o040755), 'drwxr-xr-x');
  t.equal(modeString(0o120777), 'lrwxrwxrwx');
  t.equal(modeString(0o104755), '-rwsr-xr-x');
  t.equal(modeString(0o102644), '-rw-r-Sr--');
  t.equal(modeString(0o041777), 'drwxrwxrwt');
  const now = 1700000000;
  t.equal(longname('f', stat(0o100600, { uid: 1000, gid: 100, size: 42, nlink: 1, mtime: now - 60 }), now), '-rw-------    1 1000     100            42 Nov 14 22:12 f');
  t.equal(longname('old', stat(0o100600, { mtime: 0 }), now), '-rw-------    1 0        0               0 Jan  1  1970 old');
});
