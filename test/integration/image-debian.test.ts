/**
 * The Debian builder end to end: debootstrap from the host's apt mirror,
 * import, launch (in a network namespace the test makes, on the managed
 * bridge), a running init, `incus exec -- cat /etc/os-release`, an address
 * from DHCP on eth0.
 * Opt-in (INCUS_TEST_DEBIAN=1): it downloads about 40 MB of packages from
 * the mirror and takes one to two minutes.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildDebianImage } from '../../lib/image-builder/debian';
import { withDaemon } from './lib/daemon';

const optIn = process.env.INCUS_TEST_DEBIAN === '1';
const haveDebootstrap = spawnSync('debootstrap', ['--version']).status === 0;
const skip = !optIn
  ? 'slow and needs the Debian mirror: set INCUS_TEST_DEBIAN=1 to run'
  : !haveDebootstrap
    ? 'debootstrap is not installed'
    : process.getuid?.() !== 0
      ? 'needs root'
      : false;

t.test('a debootstrapped Debian image boots and answers exec', { skip, timeout: 900_000 }, async (t) => {
  const d = await withDaemon(t, { netns: true });
  const started = Date.now();
  const img = await buildDebianImage({ output: join(d.dir, 'debian.tar.xz') });
  t.comment(`built ${img.path} (${(img.size / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  t.equal((await d.cli(['image', 'import', img.path, '--alias', 'debian'])).code, 0);
  const l = await d.cli(['launch', 'debian', 'deb1']);
  t.equal(l.code, 0, l.stderr);
  const init = d.attach('deb1', ['cat', '/proc/1/cmdline']).out.replace(/\0/g, ' ').trim();
  t.match(init, /^init/, `PID 1 is sysvinit (${init})`);
  const os = await d.cli(['exec', 'deb1', '--', 'cat', '/etc/os-release']);
  t.equal(os.code, 0, os.stderr);
  t.match(os.stdout, /VERSION_CODENAME=bookworm/);
  t.equal((await d.cli(['exec', 'deb1', '--', 'hostname'])).stdout.trim(), 'deb1', 'the hostname template rendered');
  let inet = '';
  for (let i = 0; i < 60 && !inet; i++) {
    inet = /inet (\d+\.\d+\.\d+\.\d+)/.exec(d.attach('deb1', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']).out)?.[1] ?? '';
    if (!inet) await new Promise((r) => setTimeout(r, 500));
  }
  t.match(inet, /^10\./, `ifupdown got ${inet || 'no address'} by DHCP on eth0`);
  const stop = Date.now();
  t.equal((await d.cli(['stop', 'deb1'])).code, 0);
  t.ok(Date.now() - stop < 20_000, 'init halts on the stop signal (no forced kill after a timeout)');
  t.equal((await d.cli(['delete', 'deb1'])).code, 0);
});
