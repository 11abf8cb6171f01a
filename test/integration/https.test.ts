/**
 * HTTPS API (issue 11, server side): the TLS listener on core.https_address,
 * the trust store, one-time trust tokens and restricted certificates, driven
 * over real TLS on 127.0.0.1 with client certificates made here.
 */
import t, { type Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { encodeCertificateToken, ZERO_TIME } from '../../lib/api/certificate';
import type { Event } from '../../lib/api/event';
import { IncusClient, execInstance } from '../../lib/client';
import { getCertificateTokens } from '../../lib/client/certificates';
import type { EventStream } from '../../lib/client/events';
import { rawRequest } from './lib/http';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { type ClientKeypair, makeClientKeypair, TlsTransport } from './lib/tls-transport';
import { freeLocalPort as freePort } from '../../bench/lib/free-port';

process.env.INCUS_TEST_HOOKS = '1';

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

async function call(tr: TlsTransport, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
  const res = await tr.request({ method, path, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'Content-Type': 'application/json' } });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(res.body.toString()) as Record<string, unknown>;
  } catch {
    json = { raw: res.body.toString() };
  }
  return { status: res.status, json };
}

async function local(d: TestDaemon, method: string, path: string, body?: unknown): Promise<Reply> {
  const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, json: r.body };
}

/** A token for `req` made over the Unix socket, as `incus config trust add` prints it. */
async function makeToken(t: Test, d: TestDaemon, req: Record<string, unknown>): Promise<{ token: string; opId: string; md: Record<string, unknown> }> {
  const r = await local(d, 'POST', '/1.0/certificates', { token: true, type: 'client', ...req });
  t.equal(r.status, 202, `token for ${String(req.name)}: ${JSON.stringify(r.json.error ?? '')}`);
  const op = r.json.metadata as { id: string; class: string; metadata: Record<string, unknown> };
  const md = op.metadata;
  const request = md.request as { name: string };
  const token = encodeCertificateToken({
    client_name: request.name,
    fingerprint: String(md.fingerprint),
    addresses: md.addresses as string[],
    secret: String(md.secret),
    expires_at: typeof md.expiresAt === 'string' ? md.expiresAt : ZERO_TIME,
  });
  return { token, opId: op.id, md: { ...md, class: op.class } };
}

/** Resolves when the stream ends (the server closed it), or rejects after ms. */
function ended(stream: EventStream, ms: number): Promise<void> {
  return Promise.race([
    (async () => {
      for await (const _ of stream) void _;
    })(),
    new Promise<void>((_, rej) => setTimeout(() => rej(new Error(`events websocket still open after ${ms} ms`)), ms).unref()),
  ]);
}

t.test('HTTPS listener, trust store, tokens and restricted certificates', async (t) => {
  const d = await withDaemon(t);
  const keys = mkdtempSync(join(tmpdir(), 'incus-https-keys-'));
  const transports: TlsTransport[] = [];
  t.teardown(() => {
    for (const tr of transports) tr.close();
    rmSync(keys, { recursive: true, force: true });
  });
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;

  // Server keypair: made on first start, key private, fingerprint in GET /1.0.
  t.equal(statSync(join(d.dir, 'server.key')).mode & 0o777, 0o600, 'server.key is 0600');
  const serverCert = new X509Certificate(readFileSync(join(d.dir, 'server.crt')));
  t.equal(serverCert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1', 'server key is ECDSA P-384');
  const serverFp = serverCert.fingerprint256.replace(/:/g, '').toLowerCase();
  const serverPem = readFileSync(join(d.dir, 'server.crt'), 'utf8');

  const noNet = await local(d, 'POST', '/1.0/certificates', { token: true, type: 'client', name: 'x' });
  t.match(noNet, { status: 400, json: { error: "Can't issue token when server isn't listening on network" } }, 'no token while not listening');
  t.equal((await local(d, 'PATCH', '/1.0', { config: { 'core.https_address': addr } })).status, 200, 'core.https_address set');
  const env = ((await local(d, 'GET', '/1.0')).json.metadata as { environment: Record<string, unknown> }).environment;
  t.equal(env.certificate_fingerprint, serverFp, 'GET /1.0 certificate_fingerprint is the SHA-256 of server.crt');
  t.equal(new X509Certificate(String(env.certificate)).fingerprint256, serverCert.fingerprint256, 'environment.certificate is server.crt');
  t.same(env.addresses, [addr], 'environment.addresses from core.https_address');

  const tls = (kp: ClientKeypair | null, at = addr): TlsTransport => {
    const tr = new TlsTransport(at, kp, serverPem);
    transports.push(tr);
    return tr;
  };
  const stranger = makeClientKeypair(keys, 'stranger');
  const untrusted = tls(stranger);
  const anonymous = tls(null);

  await t.test('untrusted callers get the trimmed GET /1.0 and 403 everywhere else', async (t) => {
    const root = await call(untrusted, 'GET', '/1.0');
    t.equal(root.status, 200);
    const md = root.json.metadata as Record<string, unknown>;
    t.equal(md.auth, 'untrusted', 'auth: untrusted');
    t.equal(md.environment, undefined, 'no environment');
    t.equal(md.api_extensions, null, 'no API extensions');
    t.same(md.auth_methods, ['tls']);
    t.equal((await call(anonymous, 'GET', '/1.0')).status, 200, 'GET /1.0 without a client certificate');

    const table = await local(d, 'GET', '/internal/testing/routes');
    const routes = table.json.metadata as { method: string; url: string }[];
    t.ok(routes.length > 50, `route table (${routes.length} routes)`);
    const PUBLIC = new Set([
      'GET /', 'GET /1.0', 'POST /1.0/certificates', 'GET /1.0/images', 'GET /1.0/images/:fingerprint',
      'GET /1.0/images/:fingerprint/export', 'GET /1.0/images/aliases/*', 'GET /streams/v1/index.json',
      'GET /streams/v1/images.json', 'GET /streams/images/:fingerprint/:file',
    ]);
    const wrong: string[] = [];
    const queue = [...routes];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let r = queue.shift(); r; r = queue.shift()) await walkOne(r);
      }),
    );
    async function walkOne(r: { method: string; url: string }): Promise<void> {
      {
        if (r.method === 'HEAD' || r.method === 'OPTIONS') return;
        const path = r.url.replace(/:[A-Za-z_]+/g, 'x').replace(/\*/g, 'x');
        const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
        for (const tr of [untrusted, anonymous]) {
          const rep = await call(tr, r.method as 'GET', path, body);
          const key = `${r.method} ${r.url}`;
          if (PUBLIC.has(key) ? rep.status >= 500 : rep.status !== 403) wrong.push(`${key} -> ${rep.status} ${JSON.stringify(rep.json.error ?? '')}`);
          if (!PUBLIC.has(key) && rep.json.error !== 'not authorized') wrong.push(`${key}: error ${JSON.stringify(rep.json.error)}`);
        }
      }
    }
    t.same(wrong, [], 'every non-public route answers 403 "not authorized" to untrusted callers, none a 5xx');
    const images = await call(untrusted, 'GET', '/1.0/images');
    t.same(images.json.metadata, [], 'untrusted image list shows no private image');
    const ev = await new IncusClient({ transport: untrusted }).events().then(
      () => 'opened',
      (err: Error & { status?: number }) => String(err.status ?? err.message),
    );
    t.equal(ev, '403', 'events websocket refused with 403');
  });

  // A trusted laptop through a one-time token.
  const laptopKp = makeClientKeypair(keys, 'laptop');
  const laptop = tls(laptopKp);
  const tok = await makeToken(t, d, { name: 'laptop' });
  t.equal(tok.md.class, 'token', 'token operation class');
  t.same(tok.md.addresses, [addr], 'token carries the listen address');
  t.equal(tok.md.fingerprint, serverFp, 'token carries the server fingerprint');
  const ops = (await local(d, 'GET', '/1.0/operations?recursion=1')).json.metadata as Record<string, { id: string; class: string }[]>;
  t.ok((ops.running ?? []).some((o) => o.id === tok.opId && o.class === 'token'), 'pending token listed in /1.0/operations');
  const added = await call(laptop, 'POST', '/1.0/certificates', { trust_token: tok.token });
  t.equal(added.status, 200, `token redeemed: ${JSON.stringify(added.json.error ?? '')}`);
  const cert = (await local(d, 'GET', `/1.0/certificates/${laptopKp.fingerprint}`)).json.metadata as Record<string, unknown>;
  t.match(cert, { name: 'laptop', type: 'client', restricted: false, fingerprint: laptopKp.fingerprint }, 'laptop is in the trust store');
  const reuse = await call(tls(makeClientKeypair(keys, 'thief')), 'POST', '/1.0/certificates', { trust_token: tok.token });
  t.match(reuse, { status: 403, json: { error: 'No matching certificate add operation found' } }, 'a used token is refused');

  const lc = new IncusClient({ transport: laptop });
  const root = (await call(laptop, 'GET', '/1.0')).json.metadata as Record<string, unknown>;
  t.match(root, { auth: 'trusted', auth_user_method: 'tls', auth_user_name: laptopKp.fingerprint }, 'GET /1.0 trusted over TLS');
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0, 'c1 launched');
  t.same(await lc.getInstances(0), ['c1'], 'laptop lists instances');
  let out = '';
  const stdout = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  const ex = await execInstance(lc, 'c1', { command: ['echo', 'over-tls'] }, { stdout });
  t.equal(ex.code, 0, 'exec over TLS exits 0');
  t.equal(out.trim(), 'over-tls', 'exec websocket carried stdout over TLS');

  const events = await lc.events(['lifecycle']);
  const seen = new Promise<Event>((resolve) => events.on((e) => resolve(e)));
  await local(d, 'PATCH', '/1.0', { config: { 'user.test': 'x' } });
  t.match(await seen, { type: 'lifecycle' }, 'events websocket over TLS delivers');

  await t.test('restricted certificate limited to project p', async (t) => {
    t.equal((await local(d, 'POST', '/1.0/projects', { name: 'p', config: { 'features.images': 'false', 'features.profiles': 'false' } })).status, 200, 'project p');
    const kp = makeClientKeypair(keys, 'restricted');
    const tr = tls(kp);
    const rt = await makeToken(t, d, { name: 'ops-p', restricted: true, projects: ['p'] });
    t.equal((await call(tr, 'POST', '/1.0/certificates', { trust_token: rt.token })).status, 200, 'restricted token redeemed');
    t.match(await call(tr, 'GET', '/1.0/instances'), { status: 403, json: { error: 'User does not have permission for project "default"' } }, 'default instances refused');
    t.equal((await call(tr, 'GET', '/1.0/instances/c1?project=default')).status, 403, 'default instance refused');
    t.equal((await call(tr, 'POST', '/1.0/instances/c1/exec', { command: ['true'] })).status, 403, 'exec in default refused');
    t.equal((await call(tr, 'DELETE', '/1.0/instances/c1')).status, 403, 'delete in default refused');
    t.match(await call(tr, 'GET', '/1.0/instances?project=p'), { status: 200, json: { metadata: [] } }, 'p instances listed');
    t.match(await call(tr, 'GET', '/1.0/instances?all-projects=true'), { status: 403, json: { error: 'Certificate is restricted' } }, 'all-projects refused');
    t.same((await call(tr, 'GET', '/1.0/projects')).json.metadata, ['/1.0/projects/p'], 'sees only project p');
    t.equal((await call(tr, 'GET', '/1.0/projects/default')).status, 403, 'project default refused');
    t.equal((await call(tr, 'PATCH', '/1.0', { config: {} })).status, 403, 'server config refused');
    t.equal((await call(tr, 'POST', '/1.0/certificates', { token: true, type: 'client', name: 'y' })).status, 403, 'cannot issue tokens');
    const evDefault = await new IncusClient({ transport: tr }).events().then(() => 'opened', (e: Error & { status?: number }) => String(e.status ?? e.message));
    t.equal(evDefault, '403', 'events of default refused');
    t.equal((await call(tr, 'DELETE', `/1.0/certificates/${laptopKp.fingerprint}`)).status, 403, 'cannot remove another certificate');
  });

  await t.test('trust store CRUD over the socket', async (t) => {
    const kp = makeClientKeypair(keys, 'added');
    const add = await local(d, 'POST', '/1.0/certificates', { type: 'client', certificate: kp.cert, description: 'by file' });
    t.equal(add.status, 200, `added: ${JSON.stringify(add.json.error ?? '')}`);
    t.match(await local(d, 'POST', '/1.0/certificates', { type: 'client', certificate: kp.cert }), { status: 409, json: { error: 'Certificate already in trust store' } }, 'duplicate refused');
    t.match(await local(d, 'POST', '/1.0/certificates', { type: 'client', certificate: 'not a cert' }), { status: 400 }, 'garbage refused');
    t.match(await local(d, 'POST', '/1.0/certificates', { type: 'bogus', certificate: kp.cert }), { status: 400, json: { error: 'Invalid certificate type' } }, 'bad type refused');
    t.match(await local(d, 'POST', '/1.0/certificates', { type: 'client' }), { status: 400, json: { error: 'Client is already trusted' } }, 'the socket needs no certificate');
    const short = kp.fingerprint.slice(0, 12);
    t.match((await local(d, 'GET', `/1.0/certificates/${short}`)).json.metadata, { name: 'added', description: 'by file', fingerprint: kp.fingerprint }, 'found by prefix, named after its CN');
    t.equal((await local(d, 'PATCH', `/1.0/certificates/${short}`, { description: 'edited', restricted: true, projects: ['p'] })).status, 200, 'patched');
    t.match((await local(d, 'GET', `/1.0/certificates/${short}`)).json.metadata, { description: 'edited', restricted: true, projects: ['p'] });
    t.match(await local(d, 'PUT', `/1.0/certificates/${short}`, { type: 'metrics', name: 'added' }), { status: 400, json: { error: 'The certificate type cannot be changed' } });
    const listed = (await local(d, 'GET', `/1.0/certificates?recursion=1&filter=${encodeURIComponent('name eq added')}`)).json.metadata as { fingerprint: string }[];
    t.same(listed.map((c) => c.fingerprint), [kp.fingerprint], 'filter');
    t.equal((await local(d, 'DELETE', `/1.0/certificates/${short}`)).status, 200, 'removed');
    t.equal((await local(d, 'GET', `/1.0/certificates/${short}`)).status, 404, 'gone');
  });

  await t.test('tokens: revoke, expiry, bad values', async (t) => {
    const kp = makeClientKeypair(keys, 'late');
    const tr = tls(kp);
    const revoked = await makeToken(t, d, { name: 'revoked' });
    t.equal((await local(d, 'DELETE', `/1.0/operations/${revoked.opId}`)).status, 200, 'token revoked');
    t.equal((await call(tr, 'POST', '/1.0/certificates', { trust_token: revoked.token })).status, 403, 'revoked token refused');
    t.match(await local(d, 'PATCH', '/1.0', { config: { 'core.remote_token_expiry': 'soon' } }), { status: 400, json: { error: /core.remote_token_expiry/ } }, 'bad expiry refused');
    t.equal((await local(d, 'PATCH', '/1.0', { config: { 'core.remote_token_expiry': '2S' } })).status, 200, 'expiry 2S');
    const short = await makeToken(t, d, { name: 'short' });
    t.ok(typeof short.md.expiresAt === 'string', 'expiresAt in token metadata');
    const pending = async (): Promise<boolean> => (await getCertificateTokens(d.client)).some((x) => x.op.id === short.opId);
    t.ok(await pending(), 'listed (list-tokens) before its expiry');
    // A little past the expiry (a loaded daemon's timer may run late), well within the 5 s a finished operation stays listed.
    await new Promise((r) => setTimeout(r, Date.parse(String(short.md.expiresAt)) - Date.now() + 1000));
    // Cancelled at its expiry, as Incus's expired-token task does: no longer pending.
    t.notOk(await pending(), 'not listed (list-tokens) once expired');
    t.match(await local(d, 'GET', `/1.0/operations/${short.opId}`), { status: 200, json: { metadata: { status: 'Cancelled' } } }, 'token operation cancelled at its expiry');
    t.match(await call(tr, 'POST', '/1.0/certificates', { trust_token: short.token }), { status: 403, json: { error: 'Token has expired' } }, 'expired token refused');
    t.equal((await call(tr, 'POST', '/1.0/certificates', { trust_token: 'bm90IGEgdG9rZW4=' })).status, 403, 'garbage token refused');
    t.equal((await local(d, 'PATCH', '/1.0', { config: { 'core.remote_token_expiry': '' } })).status, 200);
    t.equal((await call(tr, 'GET', '/1.0/instances')).status, 403, 'still untrusted');
  });

  await t.test('removing a certificate cuts its websockets and its next call', async (t) => {
    const live = await lc.events();
    const gone = ended(live, 3000);
    t.equal((await local(d, 'DELETE', `/1.0/certificates/${laptopKp.fingerprint}`)).status, 200, 'laptop removed');
    await t.resolves(gone, 'open events websocket closed at once');
    t.match(await call(laptop, 'GET', '/1.0/instances'), { status: 403, json: { error: 'not authorized' } }, 'next call refused');
  });

  await t.test('core.https_address moves and stops live', async (t) => {
    const port2 = await freePort();
    const addr2 = `127.0.0.1:${port2}`;
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = `127.0.0.1:${(blocker.address() as { port: number }).port}`;
    const taken = await local(d, 'PATCH', '/1.0', { config: { 'core.https_address': busy } });
    await new Promise((r) => blocker.close(r));
    t.match(taken, { status: 400, json: { error: /Cannot listen on https socket/ } }, 'a taken port is refused');
    t.equal((await call(tls(null), 'GET', '/1.0')).status, 200, 'the old address still answers');
    t.match(await local(d, 'PATCH', '/1.0', { config: { 'core.https_address': '127.0.0.1:99999' } }), { status: 400 }, 'bad port refused');
    // An admin over HTTPS moves the listener it is talking through, and still gets its answer.
    const adminKp = makeClientKeypair(keys, 'admin');
    const admin = tls(adminKp);
    const at = await makeToken(t, d, { name: 'admin' });
    t.equal((await call(admin, 'POST', '/1.0/certificates', { trust_token: at.token })).status, 200, 'admin trusted');
    const moved = await call(admin, 'PATCH', '/1.0', { config: { 'core.https_address': addr2 } });
    t.equal(moved.status, 200, `moved over HTTPS: ${JSON.stringify(moved.json.error ?? '')}`);
    await t.rejects(call(tls(null), 'GET', '/1.0'), { code: 'ECONNREFUSED' }, 'old address closed');
    t.equal((await call(tls(null, addr2), 'GET', '/1.0')).status, 200, 'new address answers');
    const env2 = ((await local(d, 'GET', '/1.0')).json.metadata as { environment: { addresses: string[] } }).environment;
    t.same(env2.addresses, [addr2], 'addresses follow');
    t.equal((await local(d, 'PATCH', '/1.0', { config: { 'core.https_address': '' } })).status, 200, 'unset');
    await t.rejects(call(tls(null, addr2), 'GET', '/1.0'), { code: 'ECONNREFUSED' }, 'listener closed');
  });
});
