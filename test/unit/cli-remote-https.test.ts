/**
 * Client side of HTTPS remotes, without a daemon: token decoding and the
 * token a token operation stands for, the fingerprint prompt's answers,
 * server certificate pinning in HttpsTransport (against an in-process TLS
 * server), the client keypair on first need, the client JWT, `REMOTE:`
 * prefixes against the command's target remote, and `config trust`
 * argument parsing.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCertificateToken, encodeCertificateToken, ZERO_TIME } from '../../lib/api/certificate';
import type { Operation } from '../../lib/api/operation';
import { tokenOfOperation } from '../../lib/client/certificates';
import { HttpsTransport, certFingerprint } from '../../lib/client/https-transport';
import { fetchRemoteCertificate } from '../../lib/client/remote-certificate';
import { parseColumns, splitProjects } from '../../lib/cli/commands/config-trust';
import { run } from '../../lib/cli/main';
import { localName, setTargetResolver } from '../../lib/cli/remote';
import { acceptAnswer } from '../../lib/cli/remotes/add-https';
import { ensureClientKeypair, hasClientCertificate, readClientKeypair } from '../../lib/cli/remotes/client-cert';
import { clientJwt, parseGoDuration } from '../../lib/cli/remotes/client-token';

const tmp = mkdtempSync(join(tmpdir(), 'cli-remote-https-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function selfSigned(name: string): { cert: string; key: string } {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-keyout', join(tmp, `${name}.key`), '-out', join(tmp, `${name}.crt`), '-days', '2', '-subj', `/CN=${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return { cert: readFileSync(join(tmp, `${name}.crt`), 'utf8'), key: readFileSync(join(tmp, `${name}.key`), 'utf8') };
}

t.test('token decode and the token of a token operation', async (t) => {
  const tok = { client_name: 'laptop', fingerprint: 'ab'.repeat(32), addresses: ['127.0.0.1:8443'], secret: 'cd'.repeat(32), expires_at: ZERO_TIME };
  t.same(decodeCertificateToken(encodeCertificateToken(tok)), tok);
  t.throws(() => decodeCertificateToken('https://host:8443'), /illegal base64/);
  t.throws(() => decodeCertificateToken(Buffer.from('{"client_name":"x"}').toString('base64')), /No server addresses/);
  const op = {
    id: 'x',
    class: 'token',
    status_code: 103,
    metadata: { secret: tok.secret, fingerprint: tok.fingerprint, addresses: tok.addresses, request: { name: 'laptop', type: 'client' }, expiresAt: '2030-01-01T00:00:00Z' },
  } as unknown as Operation;
  t.same(tokenOfOperation(op), { ...tok, expires_at: '2030-01-01T00:00:00Z' });
  t.equal(tokenOfOperation({ ...op, metadata: { secret: 's' } } as Operation), null, 'not a certificate add token');
});

t.test('fingerprint prompt answers as Incus takes them', async (t) => {
  const fp = 'ab'.repeat(32);
  t.doesNotThrow(() => acceptAnswer('y', fp));
  t.doesNotThrow(() => acceptAnswer('Yes', fp));
  t.doesNotThrow(() => acceptAnswer(fp, fp));
  t.throws(() => acceptAnswer('', fp), { message: 'Server certificate NACKed by user' });
  t.throws(() => acceptAnswer('no', fp), { message: 'Server certificate NACKed by user' });
  t.throws(() => acceptAnswer('maybe', fp), { message: "Please type 'y', 'n' or the fingerprint:" });
});

t.test('HttpsTransport trusts the pinned certificate only', async (t) => {
  const server = selfSigned('server');
  const impostor = selfSigned('impostor');
  const client = selfSigned('client');
  let seenClient = '';
  const srv = https.createServer({ cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    seenClient = peer.fingerprint256?.replace(/:/g, '').toLowerCase() ?? '';
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, metadata: { ok: true } }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const url = `https://127.0.0.1:${(srv.address() as { port: number }).port}`;

  const seen = await fetchRemoteCertificate(url);
  t.equal(seen.fingerprint, certFingerprint(server.cert), 'the unverified fetch reads the server certificate');

  const good = new HttpsTransport({ url, clientCert: client.cert, clientKey: client.key, serverCert: server.cert });
  const res = await good.request({ method: 'GET', path: '/1.0' });
  t.equal(res.status, 200);
  t.equal(seenClient, certFingerprint(client.cert), 'the client certificate is presented');
  good.close();

  const bad = new HttpsTransport({ url, clientCert: client.cert, clientKey: client.key, serverCert: impostor.cert });
  await t.rejects(bad.request({ method: 'GET', path: '/1.0/instances' }), {
    name: 'ConnectionError',
    message: `Get "${url}/1.0/instances": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  });
  bad.close();

  const none = new HttpsTransport({ url, clientCert: client.cert, clientKey: client.key });
  await t.rejects(none.request({ method: 'GET', path: '/1.0' }), /certificate signed by unknown authority/, 'system CAs do not vouch for a self-signed server');
  none.close();

  // A remote's further addresses are tried when the first cannot be reached.
  const closed = await new Promise<number>((r) => {
    const probe = require('node:net').createServer().listen(0, '127.0.0.1', () => {
      const p = probe.address().port as number;
      probe.close(() => r(p));
    });
  });
  const multi = new HttpsTransport({ url: `https://127.0.0.1:${closed}`, fallbackUrls: [url], clientCert: client.cert, clientKey: client.key, serverCert: server.cert });
  t.equal((await multi.request({ method: 'GET', path: '/1.0' })).status, 200, 'second address used');
  t.equal(multi.address, url, 'and kept');
  multi.close();

  srv.close();
  await new Promise((r) => setTimeout(r, 20));
  const gone = new HttpsTransport({ url, serverCert: server.cert });
  await t.rejects(gone.request({ method: 'POST', path: '/1.0/x', body: '{}' }), {
    message: `Post "${url}/1.0/x": Unable to connect to: 127.0.0.1:${new URL(url).port} ([dial tcp 127.0.0.1:${new URL(url).port}: connect: connection refused])`,
  });
  gone.close();
});

t.test('client keypair is made once, ECDSA P-384, key private', async (t) => {
  const dir = join(tmp, 'conf');
  const notices: string[] = [];
  t.notOk(hasClientCertificate(dir));
  const pair = await ensureClientKeypair(dir, (s) => notices.push(s));
  t.same(notices, ['Generating a client certificate. This may take a minute...\n']);
  t.ok(hasClientCertificate(dir));
  t.equal(statSync(join(dir, 'client.key')).mode & 0o777, 0o600);
  const pub = createPublicKey(pair.cert);
  t.equal(pub.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  const again = await ensureClientKeypair(dir, (s) => notices.push(s));
  t.equal(again.cert, pair.cert, 'not regenerated');
  t.equal(notices.length, 1);
  // A remote's own keypair wins over the default one.
  const own = selfSigned('own');
  spawnSync('mkdir', ['-p', join(dir, 'clientcerts')]);
  writeFileSync(join(dir, 'clientcerts', 'r1.crt'), own.cert);
  writeFileSync(join(dir, 'clientcerts', 'r1.key'), own.key);
  t.equal(readClientKeypair(dir, 'r1')?.cert, own.cert);
  t.equal(readClientKeypair(dir, 'r2')?.cert, pair.cert);

  const jwt = clientJwt(pair, 3_600_000, 1_700_000_000_000);
  const [h, c, s] = jwt.split('.') as [string, string, string];
  t.same(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'ES384', typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
  t.same(claims, { sub: certFingerprint(pair.cert), exp: 1_700_003_600, nbf: 1_700_000_000, iat: 1_700_000_000 });
  t.ok(verify('sha384', Buffer.from(`${h}.${c}`), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')), 'signature verifies');
});

t.test('Go durations for get-client-token', async (t) => {
  t.equal(parseGoDuration('24h'), 86_400_000);
  t.equal(parseGoDuration('1h30m'), 5_400_000);
  t.equal(parseGoDuration('1.5s'), 1500);
  t.throws(() => parseGoDuration('10'), { message: 'time: missing unit in duration "10"' });
  t.throws(() => parseGoDuration('1d'), { message: 'time: unknown unit "d" in duration "1d"' });
  t.throws(() => parseGoDuration('h'), { message: 'time: invalid duration "h"' });
});

t.test('REMOTE: prefixes follow the target remote', async (t) => {
  t.teardown(() => setTargetResolver(() => 'local'));
  setTargetResolver(() => 'srv');
  t.equal(localName('srv:c1'), 'c1');
  t.equal(localName('c1'), 'c1');
  t.throws(() => localName('local:c1'), { message: 'The remote "local" doesn\'t exist' });
  t.equal(localName('a/b:c'), 'a/b:c', 'a snapshot path with a colon is no remote');
});

t.test('target remote from the command line, the default remote or --force-local', async (t) => {
  const dir = join(tmp, 'cfg');
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(
    join(dir, 'config.yml'),
    'default-remote: srv\nremotes:\n  srv:\n    addr: https://127.0.0.1:1\n    auth_type: tls\n    protocol: incus\n    public: false\n  other:\n    addr: unix:///nonexistent/other.socket\n    protocol: incus\n    public: false\n  images:\n    addr: https://images.example\n    protocol: simplestreams\n    public: true\n',
  );
  const env = { INCUS_CONF: dir, INCUS_GLOBAL_CONF: join(dir, 'none'), INCUS_DIR: join(dir, 'nodaemon'), INCUS_SOCKET: '', HOME: dir };
  const cli = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await run(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env });
    return { code, out, err };
  };
  // The default remote is the HTTPS one (nobody listens on port 1).
  t.match((await cli(['list'])).err, 'Unable to connect to: 127.0.0.1:1');
  // A REMOTE: argument picks that remote's socket.
  t.match((await cli(['list', 'other:'])).err, "socket path: /nonexistent/other.socket");
  // --force-local: the local socket, whatever the default.
  t.match((await cli(['--force-local', 'list'])).err, `socket path: ${join(dir, 'nodaemon', 'unix.socket')}`);
  // An image server is no target: the instance stays on the default remote.
  t.match((await cli(['launch', 'images:debian', 'c1'])).err, 'Unable to connect to: 127.0.0.1:1');
  t.match((await cli(['config', 'trust', 'list', 'other:'])).err, 'socket path: /nonexistent/other.socket');
  // A host:port value is no remote prefix, even when a remote has that host's name.
  t.match((await cli(['config', 'set', 'core.https_address', 'other:8443'])).err, 'Unable to connect to: 127.0.0.1:1');
});

t.test('config trust argument helpers', async (t) => {
  t.same(splitProjects('p1,p2'), ['p1', 'p2']);
  t.equal(splitProjects(''), undefined);
  t.same(parseColumns('nt', { n: 'NAME', t: 'TYPE' }), ['NAME', 'TYPE']);
  t.throws(() => parseColumns('nx', { n: 'NAME' }), { message: "Unknown column shorthand char 'x' in 'nx'" });
  t.throws(() => parseColumns('n,', { n: 'NAME' }), { message: "Empty column entry (redundant, leading or trailing command) in 'n,'" });
});

t.test('admin init network flags', async (t) => {
  const { checkInitFlags, listenAddressOf } = await import('../../lib/cli/commands/admin');
  t.equal(listenAddressOf('127.0.0.1', undefined), '127.0.0.1:8443');
  t.equal(listenAddressOf('::1', 9443), '[::1]:9443');
  t.equal(listenAddressOf('[::]', 8444), '[::]:8444');
  t.throws(() => checkInitFlags({ networkAddress: '1.2.3.4' }), { message: 'Configuration flags require --auto' });
  t.throws(() => checkInitFlags({ auto: true, networkPort: 1 }), { message: "--network-port can't be used without --network-address" });
  t.doesNotThrow(() => checkInitFlags({ auto: true, networkAddress: '1.2.3.4', networkPort: 1 }));
});
