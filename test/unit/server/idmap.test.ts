import t from 'tap';
import { idmapJson, parseSubid } from '../../../lib/server/instance/idmap';

t.test('subid parsing picks root\'s largest range', async (t) => {
  t.same(parseSubid('root:100000:65536\nuser:200000:65536\nroot:1000000:1000000000\n'), { hostBase: 1000000, size: 1000000000 });
  t.equal(parseSubid('user:1:65536\n'), null);
  t.equal(parseSubid('root:1:100\n'), null, 'too small to hold a container');
  const j = JSON.parse(idmapJson({ uid: { hostBase: 1, size: 2 }, gid: { hostBase: 3, size: 4 } }));
  t.same(j[0], { Isuid: true, Isgid: false, Hostid: 1, Nsid: 0, Maprange: 2 });
  t.same(j[1], { Isuid: false, Isgid: true, Hostid: 3, Nsid: 0, Maprange: 4 });
});
