import t from 'tap';
import { expandConfig, rootDisk } from '../../../lib/server/instance/expand';

t.test('profiles apply in order, then the instance; type none masks', async (t) => {
  const p1 = { config: { 'user.a': '1', 'user.b': '1' }, devices: { root: { type: 'disk', path: '/', pool: 'p1' }, eth0: { type: 'nic', network: 'br0' } } };
  const p2 = { config: { 'user.b': '2' }, devices: { root: { type: 'disk', path: '/', pool: 'p2' } } };
  const local = { config: { 'user.c': '3' }, devices: { eth0: { type: 'none' } } };
  const e = expandConfig([p1, p2], local);
  t.same(e.config, { 'user.a': '1', 'user.b': '2', 'user.c': '3' });
  t.same(Object.keys(e.devices), ['root']);
  t.equal(e.devices.root.pool, 'p2');
  t.same(rootDisk(e.devices)?.pool, 'p2');
  t.equal(rootDisk({ data: { type: 'disk', path: '/mnt', source: '/x' } }), null);
});
