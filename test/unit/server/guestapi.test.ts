/** The guest API's pure parts: event diffs in Incus's order, route matching, the /dev/incus mount line. */
import t from 'tap';
import { guestChanges } from '../../../lib/server/guestapi/events';
import { matchGuestRoute } from '../../../lib/server/guestapi/routes';
import { renderLxcConfig } from '../../../lib/server/instance/drivers/lxc/lxc-config';
import type { InstanceRuntime } from '../../../lib/server/instance/interface';

t.test('changes: user.* keys only, then removed, updated, added devices', async (t) => {
  const before = {
    config: { 'user.a': '1', 'user.gone': 'x', 'limits.cpu': '1' },
    devices: { eth0: { type: 'nic', name: 'eth0' }, old: { type: 'disk', path: '/a', source: '/b' } },
  };
  const after = {
    config: { 'user.a': '2', 'user.new': 'y', 'limits.cpu': '2' },
    devices: { eth0: { type: 'nic', name: 'eth1' }, kvm: { type: 'unix-char', path: '/dev/kvm' } },
  };
  t.same(guestChanges(before, after), [
    { type: 'config', metadata: { key: 'user.a', old_value: '1', value: '2' } },
    { type: 'config', metadata: { key: 'user.gone', old_value: 'x', value: '' } },
    { type: 'config', metadata: { key: 'user.new', old_value: '', value: 'y' } },
    { type: 'device', metadata: { action: 'removed', name: 'old', config: { type: 'disk', path: '/a', source: '/b' } } },
    { type: 'device', metadata: { action: 'updated', name: 'eth0', config: { type: 'nic', name: 'eth1' } } },
    { type: 'device', metadata: { action: 'added', name: 'kvm', config: { type: 'unix-char', path: '/dev/kvm' } } },
  ]);
  t.same(guestChanges(before, before), []);
});

t.test('routes: Incus\'s paths, one segment per parameter, decoded', async (t) => {
  t.ok(matchGuestRoute('/'));
  t.ok(matchGuestRoute('/1.0'));
  t.equal(matchGuestRoute('/1.0/config/user.foo')?.params.key, 'user.foo');
  t.equal(matchGuestRoute('/1.0/config/user.a%20b')?.params.key, 'user.a b');
  t.equal(matchGuestRoute('/1.0/images/abc/export')?.params.fingerprint, 'abc');
  t.equal(matchGuestRoute('/1.0/events')?.handler, 'events');
  t.equal(matchGuestRoute('/1.0/config/a/b'), null);
  t.equal(matchGuestRoute('/1.0/config/'), null);
  t.equal(matchGuestRoute('/2.0'), null);
  t.equal(matchGuestRoute('/1.0/config/%zz'), null);
});

t.test('lxc config: /dev/incus mounted unless security.guestapi is false', async (t) => {
  const render = (config: Record<string, string>): string =>
    renderLxcConfig({
      inst: { name: 'c1', project: 'default', expandedConfig: config, volumePath: '/pool/c1', idmap: null } as unknown as InstanceRuntime,
      logFile: '/log',
      consoleLogFile: '/console',
      debug: false,
      cgroup: [],
      cpuset: null,
      seccompProfile: null,
      cpusetVersion: 2,
      extra: [],
      guestApiDir: '/var/lib/incus/guestapi',
    });
  const line = 'lxc.mount.entry = /var/lib/incus/guestapi dev/incus none bind,create=dir 0 0';
  t.ok(render({}).split('\n').includes(line));
  t.ok(render({ 'security.guestapi': 'true' }).split('\n').includes(line));
  t.notOk(render({ 'security.guestapi': 'false' }).includes('guestapi'));
});
