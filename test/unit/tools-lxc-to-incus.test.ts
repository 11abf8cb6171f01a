/** lxc-to-incus' pure parts: config parsing, key translation, idmap owner maps. */
import t from 'tap';
import { parseConfigText, rootfsOf } from '../../lib/tools/lxc-to-incus/config';
import { ownerMap, parseIdMap, toContainerId } from '../../lib/tools/lxc-to-incus/idmap';
import { bytesToSize, translate } from '../../lib/tools/lxc-to-incus/translate';

const CONF = `# made by lxc-create
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /etc/my.conf
lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs
lxc.uts.name = "c1"
lxc.idmap = u 0 100000 65536
lxc.idmap = g 0 100000 65536
lxc.net.0.type = veth
lxc.net.0.link = br0
lxc.net.0.hwaddr = 00:16:3e:00:00:01
lxc.net.1.type = empty
lxc.mount.entry = /srv/data srv/data none bind,ro 0 0
lxc.mount.entry = /nowhere opt none bind,optional 0 0
lxc.mount.entry = shm dev/shm tmpfs defaults 0 0
lxc.cgroup2.memory.max = 256M
lxc.cgroup.cpuset.cpus = 1
lxc.cgroup.pids.max = 50
lxc.cgroup.devices.allow = c 1:3 rwm
lxc.start.auto = 1
lxc.start.delay = 5
lxc.environment = FOO=bar
lxc.apparmor.profile = lxc-container-default-with-nesting
lxc.signal.halt = SIGUSR1
lxc.tty.max = 2
lxc.cap.drop = sys_module mac_admin
`;

t.test('config text: comments skipped, shipped includes dropped, user includes inlined', async (t) => {
  const seen: string[] = [];
  const e = parseConfigText(CONF, (p) => {
    seen.push(p);
    return [{ key: 'lxc.start.order', value: '3' }];
  });
  t.same(seen, ['/etc/my.conf']);
  t.ok(e.some((x) => x.key === 'lxc.start.order'));
  t.equal(rootfsOf(e), '/var/lib/lxc/c1/rootfs');
});

t.test('translation of a typical config', async (t) => {
  const e = parseConfigText(CONF);
  const tr = translate('c1', e, (p) => p !== '/nowhere');
  t.same(tr.problems, []);
  t.same(tr.config, {
    'limits.memory': '256MiB',
    'limits.cpu': '1-1',
    'limits.processes': '50',
    'security.privileged': 'false',
    'environment.FOO': 'bar',
    'boot.autostart': 'true',
    'boot.autostart.delay': '5',
    'security.nesting': 'true',
    'raw.lxc': 'lxc.signal.halt=SIGUSR1\nlxc.tty.max=2\n',
  });
  t.same(tr.devices, {
    eth0: { type: 'none' },
    net0: { type: 'nic', nictype: 'bridged', parent: 'br0', hwaddr: '00:16:3e:00:00:01' },
    mount0: { type: 'disk', readonly: 'true', source: '/srv/data', path: '/srv/data' },
    mount1: { type: 'disk', required: 'false', source: '/nowhere', path: '/opt' },
  });
  t.same(tr.ignored, ['lxc.cgroup.devices.allow', 'lxc.mount.entry = shm dev/shm tmpfs defaults 0 0']);
  t.equal(tr.idmap.length, 2);
});

t.test('problems are all collected, each naming its key', async (t) => {
  const e = parseConfigText(`lxc.uts.name = other
lxc.rootfs.path = /missing
lxc.hook.pre-start = /bin/true
lxc.seccomp.profile = /etc/custom.seccomp
lxc.cap.drop = sys_admin
lxc.mount.entry = /absent mnt none bind 0 0
`);
  const tr = translate('c1', e, () => false);
  t.match(tr.problems.join('\n'), /'lxc\.hook\.pre-start'[\s\S]*lxc\.uts\.name[\s\S]*'\/missing'[\s\S]*\/absent[\s\S]*seccomp[\s\S]*sys_admin/);
  t.equal(tr.config['security.privileged'], 'true');
});

t.test('sizes and idmaps', async (t) => {
  t.equal(bytesToSize('134217728'), '128MiB');
  t.equal(bytesToSize('1G'), '1GiB');
  t.equal(bytesToSize('1000'), '1000B');
  t.equal(bytesToSize('max'), undefined);
  const m = [parseIdMap('u 0 100000 65536'), parseIdMap('g 0 200000 10')];
  t.equal(toContainerId(m, 'u', 100005), 5);
  t.equal(toContainerId(m, 'g', 100005), undefined);
  t.same(ownerMap(m, 'u', [100000, 0, 100033, 100000]), { text: '+100000 +0\n+100033 +33\n', unmapped: [0] });
  t.throws(() => parseIdMap('x 1 2'));
});
