import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot } from '../../../lib/server/images/resolve-in-root';
import { applyTemplates } from '../../../lib/server/images/templates';

function volume(t: { teardown(f: () => void): void }): string {
  const v = mkdtempSync(join(tmpdir(), 'tplvol-'));
  t.teardown(() => rmSync(v, { recursive: true, force: true }));
  mkdirSync(join(v, 'rootfs', 'etc'), { recursive: true });
  mkdirSync(join(v, 'templates'));
  return v;
}

t.test('paths resolve inside the root', async (t) => {
  const v = volume(t);
  const root = join(v, 'rootfs');
  symlinkSync('/', join(root, 'esc'));
  symlinkSync('../../../../etc', join(root, 'up'));
  t.equal(resolveInRoot(root, '/esc/etc/passwd'), join(root, 'etc/passwd'));
  t.equal(resolveInRoot(root, '../../../etc/x'), join(root, 'etc/x'));
  t.equal(resolveInRoot(root, '/up/hostname'), join(root, 'etc/hostname'));
  symlinkSync('loop', join(root, 'loop'));
  t.throws(() => resolveInRoot(root, '/loop/x'), /symbolic links/);
});

t.test('templates render by trigger with Incus variables', async (t) => {
  const v = volume(t);
  writeFileSync(
    join(v, 'metadata.yaml'),
    [
      'architecture: x86_64',
      'templates:',
      '  /etc/hostname:',
      '    when: [create, copy]',
      '    template: hostname.tpl',
      '  /esc/etc/motd:',
      '    when: [start]',
      '    template: motd.tpl',
      '    mode: "0600"',
      '    properties: { greeting: hello }',
      '  /etc/once:',
      '    when: [start]',
      '    create_only: true',
      '    template: once.tpl',
    ].join('\n'),
  );
  writeFileSync(join(v, 'templates', 'hostname.tpl'), '{{ instance.name }}\n');
  writeFileSync(join(v, 'templates', 'motd.tpl'), '{{ properties.greeting }} {{ container.name }} {{ trigger }} {{ config_get("user.x", "none") }} {{ config_get("user.y", "dflt") }}\n');
  writeFileSync(join(v, 'templates', 'once.tpl'), 'first\n');
  writeFileSync(join(v, 'rootfs', 'etc', 'once'), 'kept\n');
  symlinkSync('/', join(v, 'rootfs', 'esc'));
  const inst = { name: 'c9', architecture: 'x86_64', privileged: false, ephemeral: false, config: { 'user.x': 'X' }, devices: {} };
  t.same(await applyTemplates(v, 'create', inst), ['/etc/hostname']);
  t.equal(readFileSync(join(v, 'rootfs/etc/hostname'), 'utf8'), 'c9\n');
  t.same(await applyTemplates(v, 'start', inst), ['/esc/etc/motd']);
  t.equal(readFileSync(join(v, 'rootfs/etc/motd'), 'utf8'), 'hello c9 start X dflt\n', 'the link led inside the root');
  t.equal(statSync(join(v, 'rootfs/etc/motd')).mode & 0o777, 0o600);
  t.notOk(existsSync('/etc/motd') && readFileSync('/etc/motd', 'utf8').includes('hello c9'), 'nothing written on the host');
  t.equal(readFileSync(join(v, 'rootfs/etc/once'), 'utf8'), 'kept\n', 'create_only keeps an existing file');
});
