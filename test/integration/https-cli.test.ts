/**
 * HTTPS remotes from the CLI (issue 11, client side): a "laptop" client
 * config directory (INCUS_CONF in a temp dir, no reachable local socket)
 * adds the daemon over HTTPS with a token from `config trust add`, then
 * launches, lists, execs and moves files through it; the token cannot be
 * reused, a token or stored certificate with the wrong server fingerprint
 * is refused, and `config trust remove` cuts the laptop off.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCertificateToken, encodeCertificateToken } from '../../lib/api/certificate';
import { type CliResult, runCli, withDaemon } from './lib/daemon';
import { freeLocalPort as freePort } from '../../bench/lib/free-port';


/** A client with its own config dir and no local daemon to fall back on. */
function laptop(dir: string) {
  return (args: string[], input = ''): Promise<CliResult> =>
    runCli({ INCUS_CONF: dir, INCUS_GLOBAL_CONF: join(dir, 'no-global'), INCUS_DIR: join(dir, 'no-daemon'), INCUS_SOCKET: '', INCUS_REMOTE: '', INCUS_PROJECT: '' }, args, input);
}

const tokenFrom = (out: string): string => out.trim().split('\n').pop() as string;
const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

t.test('a laptop manages the daemon over HTTPS with a trust token', async (t) => {
  const d = await withDaemon(t);
  const tmp = mkdtempSync(join(tmpdir(), 'incus-laptop-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const lapDir = join(tmp, 'laptop');
  const lap = laptop(lapDir);
  const ok = (r: CliResult, what: string) => t.equal(r.code, 0, `${what}: ${r.stderr}`);

  const port = await freePort();
  ok(await d.cli(['config', 'set', 'core.https_address', `127.0.0.1:${port}`]), 'config set core.https_address');
  const add = await d.cli(['config', 'trust', 'add', 'laptop']);
  ok(add, 'config trust add');
  t.match(add.stdout, /^Client laptop certificate add token:\n/);
  const token = tokenFrom(add.stdout);
  const decoded = decodeCertificateToken(token);
  t.same(decoded.addresses, [`127.0.0.1:${port}`]);
  t.match((await d.cli(['config', 'trust', 'list-tokens', '-f', 'csv', '-c', 'n'])).stdout, /^laptop$/m);

  // Adding the remote redeems the token, pins the server certificate and makes the client keypair.
  const added = await lap(['remote', 'add', 'srv', token]);
  ok(added, 'remote add srv TOKEN');
  t.match(added.stderr, 'Generating a client certificate. This may take a minute...');
  for (const f of ['client.crt', 'client.key', 'servercerts/srv.crt']) t.ok(existsSync(join(lapDir, f)), `${f} exists`);
  t.equal(fingerprintOf(readFileSync(join(lapDir, 'servercerts/srv.crt'), 'utf8')), decoded.fingerprint, 'pinned certificate is the token’s');
  const conf = readFileSync(join(lapDir, 'config.yml'), 'utf8');
  t.match(conf, `addr: https://127.0.0.1:${port}`);
  t.match(conf, 'auth_type: tls');
  t.equal((await d.cli(['config', 'trust', 'list-tokens', '-f', 'csv', '-c', 'n'])).stdout, '', 'token used up');
  const laptopFp = fingerprintOf(readFileSync(join(lapDir, 'client.crt'), 'utf8'));
  t.match((await d.cli(['config', 'trust', 'list', '-f', 'csv', '-c', 'nF'])).stdout, `laptop,${laptopFp}`);
  t.match((await d.cli(['config', 'trust', 'show', laptopFp.slice(0, 12)])).stdout, /^name: laptop\ntype: client\nrestricted: false\n/);

  // REMOTE: prefix, then the remote as the default.
  ok(await lap(['launch', 'srv:busybox', 'srv:c1']), 'launch srv:busybox srv:c1');
  t.match((await lap(['list', 'srv:', '-f', 'csv', '-c', 'ns'])).stdout, /^c1,RUNNING$/m);
  ok(await lap(['remote', 'switch', 'srv']), 'remote switch srv');
  const ex = await lap(['exec', 'c1', '--', 'sh', '-c', 'echo hello-$((6*7))']);
  ok(ex, 'exec');
  t.equal(ex.stdout, 'hello-42\n');
  const failed = await lap(['exec', 'c1', '--', 'sh', '-c', 'exit 3']);
  t.equal(failed.code, 3, 'exec exit status crosses HTTPS');

  const src = join(tmp, 'payload');
  writeFileSync(src, 'over tls\n'.repeat(1000));
  ok(await lap(['file', 'push', src, 'c1/root/payload']), 'file push');
  const back = join(tmp, 'back');
  ok(await lap(['file', 'pull', 'srv:c1/root/payload', back]), 'file pull');
  t.equal(readFileSync(back, 'utf8'), readFileSync(src, 'utf8'));

  // --force-local goes to the (absent) local socket instead.
  const forced = await lap(['--force-local', 'list']);
  t.not(forced.code, 0);
  t.match(forced.stderr, "The incus daemon doesn't appear to be started");

  // The same token again: refused.
  const again = await laptop(join(tmp, 'laptop2'))(['remote', 'add', 'srv', token]);
  t.not(again.code, 0, 'token reuse refused');
  t.match(again.stderr, /Error: Failed to create certificate: /);

  // A token whose fingerprint is not the server's: refused before anything is sent.
  const other = tokenFrom((await d.cli(['config', 'trust', 'add', 'other'])).stdout);
  const forged = encodeCertificateToken({ ...decodeCertificateToken(other), fingerprint: 'ab'.repeat(32) });
  const mism = await laptop(join(tmp, 'laptop3'))(['remote', 'add', 'srv', forged]);
  t.not(mism.code, 0);
  t.match(mism.stderr, `Certificate fingerprint mismatch between certificate token and server "127.0.0.1:${port}"`);
  t.notOk(existsSync(join(tmp, 'laptop3', 'servercerts', 'srv.crt')), 'nothing pinned on failure');
  const rev = await d.cli(['config', 'trust', 'revoke-token', 'other']);
  ok(rev, 'revoke-token');
  t.equal(rev.stdout, 'Certificate add token for other deleted\n');

  // A stored server certificate that is not the server's: the CLI refuses to talk.
  const pinned = join(lapDir, 'servercerts', 'srv.crt');
  copyFileSync(pinned, join(tmp, 'good.crt'));
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-keyout', join(tmp, 'bad.key'), '-out', pinned, '-days', '2', '-subj', '/CN=impostor'], { encoding: 'utf8' });
  t.equal(gen.status, 0, gen.stderr);
  const wrong = await lap(['list']);
  t.not(wrong.code, 0, 'wrong server certificate refused');
  t.match(wrong.stderr, `Error: Get "https://127.0.0.1:${port}/1.0/instances`);
  t.match(wrong.stderr, 'tls: failed to verify certificate: x509: certificate signed by unknown authority');
  copyFileSync(join(tmp, 'good.crt'), pinned);
  ok(await lap(['list']), 'list with the right certificate again');

  // Events follow over the laptop's HTTPS transport (websocket over TLS, client certificate presented).
  const { HttpsTransport } = await import('../../lib/client/https-transport');
  const { IncusClient } = await import('../../lib/client/client');
  const read = (f: string): string => readFileSync(join(lapDir, f), 'utf8');
  const remoteClient = new IncusClient({ transport: new HttpsTransport({ url: `https://127.0.0.1:${port}`, clientCert: read('client.crt'), clientKey: read('client.key'), serverCert: read('servercerts/srv.crt') }) });
  const events = await remoteClient.events(['lifecycle']);
  const seen = new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('(no event within 10 s)'), 10_000);
    events.on((e) => {
      const md = e.metadata as { action?: string; source?: string };
      if (md.action !== 'instance-updated') return;
      clearTimeout(timer);
      resolve(String(md.source));
    });
  });
  ok(await lap(['config', 'set', 'c1', 'user.via', 'https']), 'config set over HTTPS');
  t.equal(await seen, '/1.0/instances/c1', 'lifecycle event received over HTTPS');
  events.close();
  remoteClient.close();

  // By URL: the fingerprint prompt, then the trust token prompt (answers piped in).
  const serverFp = decoded.fingerprint;
  const tabletToken = tokenFrom((await d.cli(['config', 'trust', 'add', 'tablet'])).stdout);
  const tablet = laptop(join(tmp, 'tablet'));
  const byUrl = await tablet(['remote', 'add', 'srv', `https://127.0.0.1:${port}`], `y\n${tabletToken}\n`);
  ok(byUrl, 'remote add srv https://...');
  t.equal(byUrl.stdout, `Certificate fingerprint: ${serverFp}\nok (y/n/[fingerprint])? Trust token for srv: Client certificate now trusted by server: srv\n`);
  t.match((await tablet(['list', 'srv:', '-f', 'csv', '-c', 'n'])).stdout, /^c1$/m);
  const nack = await laptop(join(tmp, 'phone'))(['remote', 'add', 'srv', `127.0.0.1:${port}`], 'n\n');
  t.not(nack.code, 0);
  t.match(nack.stderr, 'Error: Server certificate NACKed by user');
  t.notOk(existsSync(join(tmp, 'phone', 'config.yml')), 'nothing saved after a NACK');
  const watchToken = tokenFrom((await d.cli(['config', 'trust', 'add', 'watch'])).stdout);
  const watch = laptop(join(tmp, 'watch'));
  ok(await watch(['remote', 'add', 'srv', `127.0.0.1:${port}`, '--accept-certificate', '--token', watchToken]), 'remote add --accept-certificate --token');
  ok(await watch(['list', 'srv:']), 'list over the accepted certificate');

  // Removing the laptop's certificate cuts it off on its next call.
  ok(await d.cli(['config', 'trust', 'remove', laptopFp]), 'config trust remove');
  const cut = await lap(['list']);
  t.not(cut.code, 0, 'removed certificate refused');
  t.match(cut.stderr, /Error: .*not authorized/i);
});

t.test('admin init --auto --network-address/--network-port listens and can issue tokens', async (t) => {
  // In a namespace of its own: --auto also makes a bridge.
  const d = await withDaemon(t, { netns: true, init: false });
  const bad = await d.cli(['admin', 'init', '--network-port', '9443']);
  t.not(bad.code, 0);
  t.match(bad.stderr, 'Error: Configuration flags require --auto');
  const noAddr = await d.cli(['admin', 'init', '--auto', '--network-port', '9443']);
  t.match(noAddr.stderr, "Error: --network-port can't be used without --network-address");
  const init = await d.cli(['admin', 'init', '--auto', '--network-address', '127.0.0.1', '--network-port', '9443']);
  t.equal(init.code, 0, init.stderr);
  t.equal((await d.cli(['config', 'get', 'core.https_address'])).stdout, '127.0.0.1:9443\n');
  const add = await d.cli(['config', 'trust', 'add', 'later']);
  t.equal(add.code, 0, add.stderr);
  t.same(decodeCertificateToken(tokenFrom(add.stdout)).addresses, ['127.0.0.1:9443']);
});
