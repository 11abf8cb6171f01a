import t from 'tap';
import { allocateIdmap, entriesJson, parseIdmapJson, parseRawIdmap } from '../../../lib/server/instance/idmap-alloc';
import { mapId } from '../../../lib/server/instance/idmap-remap';
import { sameIdmap } from '../../../lib/server/instance/volume-idmap';
import { lxcIdmapLines } from '../../../lib/server/instance/drivers/lxc/config-lines';
import { seccompProfile } from '../../../lib/server/instance/seccomp';

const host = { uid: { hostBase: 1000000, size: 1000000000 }, gid: { hostBase: 1000000, size: 1000000000 } };

t.test('shared, isolated and explicit maps', async (t) => {
  const shared = allocateIdmap(host, { isolated: false }, []);
  t.equal(shared.base, 1000000);
  t.same(lxcIdmapLines(shared.entries), ['lxc.idmap = u 0 1000000 1000000000', 'lxc.idmap = g 0 1000000 1000000000']);
  const a = allocateIdmap(host, { isolated: true }, []);
  const b = allocateIdmap(host, { isolated: true }, [{ base: a.base, size: 65536 }]);
  t.equal(a.base, 1065536);
  t.equal(b.base, 1131072);
  const big = allocateIdmap(host, { isolated: true, size: 100000 }, [{ base: a.base, size: 65536 }, { base: b.base, size: 65536 }]);
  t.equal(big.base, 1196608, 'the first gap that fits, after ranges of other sizes');
  const gap = allocateIdmap(host, { isolated: true }, [{ base: 1065536, size: 65536 }, { base: 1300000, size: 65536 }]);
  t.equal(gap.base, 1131072, 'a gap between two taken ranges');
  const c = allocateIdmap(host, { isolated: true, base: 2000000, size: 100000 }, []);
  t.same(c.entries[0], { isUid: true, isGid: false, hostId: 2000000, nsId: 0, range: 100000 });
  t.same(allocateIdmap(host, { isolated: false, base: 2000000 }, []).entries[0]?.hostId, 1000000, 'security.idmap.base only places isolated maps');
  t.same(allocateIdmap(host, { isolated: false, size: 100000 }, []).entries[0]?.range, 100000, 'security.idmap.size caps the shared range');
  t.throws(() => allocateIdmap({ uid: { hostBase: 1, size: 70000 }, gid: { hostBase: 1, size: 70000 } }, { isolated: true }, []), /Not enough/);
  t.match(entriesJson(a.entries), /"Hostid":1065536/);
});

t.test('raw.idmap punches holes', async (t) => {
  t.same(parseRawIdmap('both 1000 1000'), [{ isUid: true, isGid: true, hostId: 1000, nsId: 1000, range: 1 }]);
  t.throws(() => parseRawIdmap('uid 1-3 1-2'), /differ/);
  t.throws(() => parseRawIdmap('user 1 1'), /Invalid/);
  t.throws(() => allocateIdmap(host, { isolated: false, raw: 'uid 1000001 1000' }, []), /Host ID is in the range of subids/, 'a host id the map already uses');
  t.throws(() => allocateIdmap(host, { isolated: false, raw: 'gid 999999 5' }, []), /range of subids/, 'a range touching the map counts too, as in Incus');
  const iso = allocateIdmap(host, { isolated: true, raw: 'both 1000000 1000000' }, []);
  t.ok(iso.entries.some((e) => e.hostId === 1000000 && e.nsId === 1000000), 'an isolated map may take ids of the shared range');
  t.doesNotThrow(() => allocateIdmap(host, { isolated: true, raw: 'uid 1000000 1000000\ngid 1000001 1000000\nboth 1000002 2000000' }, []), 'raw entries next to each other (Incus\'s own test)');
  const m = allocateIdmap(host, { isolated: false, size: 65536, raw: 'uid 1000 1000' }, []);
  t.same(lxcIdmapLines(m.entries), [
    'lxc.idmap = u 0 1000000 1000',
    'lxc.idmap = u 1000 1000 1',
    'lxc.idmap = u 1001 1001001 64535',
    'lxc.idmap = g 0 1000000 65536',
  ]);
});

t.test('seccomp policies', async (t) => {
  const def = seccompProfile({}, false)!;
  t.match(def, /^2\ndenylist\nreject_force_umount\n\[all\]\nkexec_load errno 38/);
  t.notMatch(seccompProfile({}, true)!, /reject_force_umount/);
  t.match(seccompProfile({ 'security.syscalls.deny': 'mount,umount2' }, false)!, /mount errno 38\numount2 errno 38/);
  t.equal(seccompProfile({ 'security.syscalls.deny_default': 'false' }, false), null);
  t.equal(seccompProfile({ 'security.syscalls.allow': 'read write' }, false), '2\nallowlist\nread\nwrite\n');
  t.equal(seccompProfile({ 'raw.seccomp': '2\ndenylist\nx errno 1' }, false), '2\ndenylist\nx errno 1\n');
});

t.test('on-disk shifts of custom volumes: ids through a map, maps compared as Incus does', async (t) => {
  const shared = allocateIdmap(host, { isolated: false }, []).entries;
  const raw = allocateIdmap(host, { isolated: false, raw: 'both 1000 50' }, []).entries;
  t.equal(mapId(shared, 7, 'uid', 'in'), 1000007, 'container id to host id');
  t.equal(mapId(shared, 1000008, 'gid', 'out'), 8, 'host id back to container id');
  t.equal(mapId(shared, 5, 'uid', 'out'), -1, 'an id the map does not cover is left alone');
  t.equal(mapId(raw, 50, 'uid', 'in'), 1000, 'a raw.idmap hole maps a host id straight in');
  t.ok(sameIdmap(parseIdmapJson(entriesJson(shared)), shared), 'a map equals its JSON form read back');
  t.ok(sameIdmap([{ isUid: true, isGid: true, hostId: 5, nsId: 0, range: 10 }], [{ isUid: false, isGid: true, hostId: 5, nsId: 0, range: 10 }, { isUid: true, isGid: false, hostId: 5, nsId: 0, range: 10 }]), 'a both-kinds entry equals its two halves');
  t.notOk(sameIdmap(shared, []), 'a map differs from none');
  t.ok(sameIdmap(parseIdmapJson('[]'), parseIdmapJson(undefined)), '"[]" and unset are both no map');
});
