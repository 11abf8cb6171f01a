/** The client configuration file and remote arguments, as Incus's CLI reads and writes them. */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseRemote, saveConfig } from '../../lib/cli/remotes/config';
import { checkImageServerUrl, normalizeAddress } from '../../lib/cli/commands/remote';
import { ProgressLine, progressText } from '../../lib/cli/progress';

function tempConf(t: { teardown(fn: () => void): void }): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'incus-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { INCUS_CONF: join(dir, 'conf'), INCUS_GLOBAL_CONF: join(dir, 'global') };
}

t.test('no file: local and images, local is the default', async (t) => {
  const env = tempConf(t);
  const c = loadConfig(env);
  t.equal(c.defaultRemote, 'local');
  t.same(Object.keys(c.remotes).sort(), ['images', 'local']);
  t.same(c.remotes.images, { addrs: ['https://images.linuxcontainers.org'], protocol: 'simplestreams', public: true });
  t.equal(c.remotes.local?.static, true);
  t.equal(loadConfig({ ...env, INCUS_REMOTE: 'images' }).defaultRemote, 'images', 'INCUS_REMOTE overrides');
});

t.test('a file replaces the defaults; local always stays; round trip keeps unknown keys', async (t) => {
  const env = tempConf(t);
  mkdirSync(env.INCUS_CONF as string, { recursive: true });
  const file = join(env.INCUS_CONF as string, 'config.yml');
  writeFileSync(file, 'default-remote: mine\nremotes:\n  mine:\n    addr: unix:///run/x.socket\n    keepalive: 30\n  ss:\n    addr: https://a.example,https://b.example\n    protocol: simplestreams\n    public: true\naliases:\n  ll: list\n');
  mkdirSync(env.INCUS_GLOBAL_CONF as string);
  writeFileSync(join(env.INCUS_GLOBAL_CONF as string, 'config.yml'), 'remotes:\n  corp:\n    addr: https://corp.example:8443\n');
  const c = loadConfig(env);
  t.equal(c.defaultRemote, 'mine');
  t.same(Object.keys(c.remotes).sort(), ['corp', 'local', 'mine', 'ss'], 'no images remote once a file exists');
  t.equal(c.remotes.mine?.protocol, 'incus', 'protocol defaults to incus');
  t.same(c.remotes.ss?.addrs, ['https://a.example', 'https://b.example']);
  t.equal(c.remotes.corp?.global, true);
  t.same(c.aliases, { ll: 'list' });
  saveConfig(c, env);
  const text = readFileSync(file, 'utf8');
  t.match(text, /keepalive: 30/, 'unknown remote keys kept');
  t.notMatch(text, /corp/, 'global remotes not written');
  t.match(text, /addr: https:\/\/a.example,https:\/\/b.example/);
  t.same(loadConfig(env).remotes.mine, c.remotes.mine);
  writeFileSync(file, 'remotes:\n  bad:\n    protocol: incus\n');
  t.throws(() => loadConfig(env), /Remotes must have at least one address/);
});

t.test('remote prefixes as ParseRemote splits them', async (t) => {
  const c = loadConfig(tempConf(t));
  t.same(parseRemote(c, 'c1'), { remote: 'local', name: 'c1' });
  t.same(parseRemote(c, 'images:debian/12'), { remote: 'images', name: 'debian/12' });
  t.same(parseRemote(c, 'local:'), { remote: 'local', name: '' });
  t.same(parseRemote(c, 'user.x=a:b'), { remote: 'local', name: 'user.x=a:b' }, 'a = before the colon is no remote');
  t.same(parseRemote(c, 'c1/snap:1'), { remote: 'local', name: 'c1/snap:1' }, 'snapshot names may hold a colon');
  t.throws(() => parseRemote(c, 'nope:c1'), /The remote "nope" doesn't exist/);
});

t.test('addresses are normalised as Incus does', async (t) => {
  t.same(normalizeAddress('/var/lib/incus/unix.socket'), { addr: 'unix:///var/lib/incus/unix.socket', scheme: 'unix' });
  t.same(normalizeAddress('unix:///x.sock'), { addr: 'unix:///x.sock', scheme: 'unix' });
  t.same(normalizeAddress('10.0.0.1'), { addr: 'https://10.0.0.1:8443', scheme: 'https' });
  t.same(normalizeAddress('https://h.example:9443'), { addr: 'https://h.example:9443', scheme: 'https' });
  t.same(normalizeAddress('fd00::1'), { addr: 'https://[fd00::1]:8443', scheme: 'https' });
  t.throws(() => normalizeAddress('http://h.example'), /Invalid URL scheme "http"/);
  t.throws(() => normalizeAddress(''), /Addresses cannot be empty/);
  t.doesNotThrow(() => checkImageServerUrl('https://images.example/x'));
  t.doesNotThrow(() => checkImageServerUrl('http://127.0.0.1:8000'), 'loopback http for local mirrors');
  t.throws(() => checkImageServerUrl('http://images.example'), /Only https URLs/);
});

t.test('progress line: rewritten in place on a terminal, silent when piped', async (t) => {
  let tty = '';
  const term = { isTTY: true, write: (s: string) => (tty += s) };
  const p = new ProgressLine(term, 'Retrieving image: %s');
  p.update('rootfs: 50% (1.00MB/s)');
  p.update('rootfs: 100% (2.00MB/s)');
  p.done('Done!');
  t.equal(tty, '\rRetrieving image: rootfs: 50% (1.00MB/s)\rRetrieving image: rootfs: 100% (2.00MB/s)\r' + ' '.repeat('Retrieving image: rootfs: 100% (2.00MB/s)'.length) + '\rDone!\n');
  let piped = '';
  const q = new ProgressLine({ write: (s: string) => (piped += s) }, 'Retrieving image: %s');
  q.update('rootfs: 50%');
  q.done('Done!');
  t.equal(piped, 'Done!\n');
  t.equal(progressText({ download_progress: 'metadata: 3%', fingerprint: 'x' }), 'metadata: 3%');
  t.equal(progressText(null), '');
});
