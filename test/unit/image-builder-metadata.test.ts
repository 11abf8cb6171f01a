import t from 'tap';
import { parse } from 'yaml';
import { BUSYBOX_TEMPLATES, busyboxMetadata, metadataYaml, serialFromUnix } from '../../lib/image-builder/metadata';
import { incusArchitecture } from '../../lib/image-builder/arch';
import { INITTAB, RCS, ROOTFS_DIRS, ROOTFS_FILES } from '../../lib/image-builder/rootfs-files';

// 2024-01-31T17:42:05Z
const WHEN = 1706722925;

t.test('serialFromUnix formats UTC as YYYYMMDD_HHMM', async (t) => {
  t.equal(serialFromUnix(WHEN), '20240131_1742');
  t.equal(serialFromUnix(0), '19700101_0000');
});

t.test('busybox metadata has the fields Incus reads', async (t) => {
  const meta = busyboxMetadata({ architecture: 'x86_64', version: '1.35.0', creationDate: WHEN });
  const doc = parse(metadataYaml(meta)) as Record<string, unknown>;
  t.equal(doc.architecture, 'x86_64');
  t.equal(doc.creation_date, WHEN);
  t.same(doc.properties, {
    architecture: 'x86_64',
    description: 'Busybox 1.35.0 x86_64 (20240131_1742)',
    name: 'busybox-1.35.0-x86_64-20240131_1742',
    os: 'busybox',
    release: '1.35.0',
  });
  const templates = doc.templates as Record<string, { when: string[]; template: string }>;
  for (const [file, rule] of Object.entries(templates)) {
    t.ok(file.startsWith('/etc/'), `${file} is absolute`);
    t.ok(rule.template in BUSYBOX_TEMPLATES, `${rule.template} is shipped`);
    t.same(rule.when, ['create', 'copy']);
  }
});

t.test('busybox metadata rejects a bad date', async (t) => {
  t.throws(() => busyboxMetadata({ architecture: 'x86_64', version: '1', creationDate: 1.5 }), RangeError);
  t.throws(() => busyboxMetadata({ architecture: 'x86_64', version: '1', creationDate: -1 }), RangeError);
});

t.test('incusArchitecture maps machine names like Incus', async (t) => {
  t.equal(incusArchitecture('x86_64'), 'x86_64');
  t.equal(incusArchitecture('amd64'), 'x86_64');
  t.equal(incusArchitecture('i386'), 'i686');
  t.equal(incusArchitecture('arm64'), 'aarch64');
  t.equal(incusArchitecture('armhf'), 'armv7l');
  t.equal(incusArchitecture('ppc64el'), 'ppc64le');
  t.throws(() => incusArchitecture('pdp11'), RangeError);
});

t.test('inittab is quiet: no gettys, no ttys, no askfirst or respawn', async (t) => {
  const entries = INITTAB.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  t.ok(entries.includes('::sysinit:/etc/init.d/rcS'));
  for (const line of entries) {
    const [id, , action] = line.split(':');
    t.equal(id, '', `${line}: bound to no tty`);
    t.notOk(['respawn', 'askfirst'].includes(action), `${line}: nothing respawns`);
    t.notMatch(line, /getty/);
    t.notMatch(line, /umount -a/, `${line}: never remounts / read-only`);
  }
});

t.test('rcS mounts nothing and sets the hostname and lo', async (t) => {
  t.ok(RCS.startsWith('#!/bin/sh\n'));
  t.notMatch(RCS, /\bmount\b/);
  t.match(RCS, /hostname -F \/etc\/hostname/);
  t.match(RCS, /ip link set lo up/);
  const rcs = ROOTFS_FILES.find((f) => f.path === 'etc/init.d/rcS');
  t.equal(rcs?.mode, 0o755);
});

t.test('rootfs has root and nobody, and the usual directories', async (t) => {
  const passwd = ROOTFS_FILES.find((f) => f.path === 'etc/passwd')?.content ?? '';
  t.match(passwd, /^root:x:0:0:/m);
  t.match(passwd, /^nobody:x:65534:65534:/m);
  const group = ROOTFS_FILES.find((f) => f.path === 'etc/group')?.content ?? '';
  t.match(group, /^root:x:0:/m);
  const dirs = new Map(ROOTFS_DIRS.map((d) => [d.path, d.mode]));
  for (const d of ['dev', 'proc', 'sys', 'run', 'var/run', 'root', 'home', 'mnt', 'etc']) {
    t.ok(dirs.has(d), d);
  }
  t.equal(dirs.get('tmp'), 0o1777);
});
