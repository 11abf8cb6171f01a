import t from 'tap';
import { decodeCertificateToken, encodeCertificateToken, ZERO_TIME } from '../../../lib/api/certificate';
import { checkAccess, isPublicRoute, requestUrl, upgradeRoute } from '../../../lib/server/auth/access';
import type { Caller } from '../../../lib/server/auth/caller';
import { parseListenAddress } from '../../../lib/server/auth/https-listener';
import { listenAddresses } from '../../../lib/server/auth/listen-addresses';
import { serverKeyProblem } from '../../../lib/server/server-config-keys';

const unix: Caller = { protocol: 'unix', fingerprint: null, certificate: undefined, trusted: true, projects: null };
const stranger: Caller = { protocol: 'tls', fingerprint: 'ab', certificate: undefined, trusted: false, projects: null };
const admin: Caller = { protocol: 'tls', fingerprint: 'cd', certificate: undefined, trusted: true, projects: null };
const restricted: Caller = { protocol: 'tls', fingerprint: 'ef', certificate: undefined, trusted: true, projects: ['p'] };
const ctx = { operationProject: (id: string) => (id === 'op-default' ? 'default' : id === 'op-p' ? 'p' : undefined) };
const check = (c: Caller, method: string, route: string | undefined, path: string): number | null =>
  checkAccess(c, method, route, requestUrl(path), ctx)?.status ?? null;

t.test('untrusted callers reach only the public routes', async (t) => {
  t.equal(check(stranger, 'GET', '/1.0', '/1.0'), null);
  t.equal(check(stranger, 'HEAD', '/1.0/images', '/1.0/images'), null, 'HEAD counts as GET');
  t.equal(check(stranger, 'POST', '/1.0/certificates', '/1.0/certificates'), null);
  t.equal(check(stranger, 'GET', '/1.0/certificates', '/1.0/certificates'), 403);
  t.equal(check(stranger, 'GET', '/1.0/images/aliases', '/1.0/images/aliases'), 403, 'alias list is not public in Incus');
  t.equal(check(stranger, 'PUT', '/1.0', '/1.0'), 403);
  t.equal(check(stranger, 'GET', '/1.0/operations/:id/websocket', '/1.0/operations/x/websocket'), null, 'secret-authenticated');
  t.equal(check(stranger, 'GET', '/1.0/events', '/1.0/events'), 403);
  t.equal(check(stranger, 'GET', undefined, '/nope'), null, 'unknown paths fall to the 404');
  t.equal(check(admin, 'GET', '/internal/ready', '/internal/ready'), 403, 'internal endpoints never over TLS');
  t.equal(check(unix, 'PUT', '/internal/shutdown', '/internal/shutdown'), null);
  t.ok(isPublicRoute('GET', '/'));
  t.notOk(isPublicRoute('DELETE', '/1.0/images/:fingerprint'));
});

t.test('restricted certificates stay in their projects', async (t) => {
  t.equal(check(restricted, 'GET', '/1.0/instances', '/1.0/instances'), 403);
  t.equal(check(restricted, 'GET', '/1.0/instances', '/1.0/instances?project=p'), null);
  t.equal(check(restricted, 'GET', '/1.0/instances', '/1.0/instances?project=p&all-projects=true'), 403);
  t.equal(check(restricted, 'GET', '/1.0', '/1.0'), null);
  t.equal(check(restricted, 'PATCH', '/1.0', '/1.0'), 403);
  t.equal(check(restricted, 'GET', '/1.0/projects', '/1.0/projects'), null, 'list is filtered by the route');
  t.equal(check(restricted, 'POST', '/1.0/projects', '/1.0/projects'), 403);
  t.equal(check(restricted, 'GET', '/1.0/projects/:name', '/1.0/projects/p'), null);
  t.equal(check(restricted, 'GET', '/1.0/projects/:name', '/1.0/projects/default'), 403);
  t.equal(check(restricted, 'PUT', '/1.0/projects/:name', '/1.0/projects/p'), 403);
  t.equal(check(restricted, 'GET', '/1.0/storage-pools', '/1.0/storage-pools'), null);
  t.equal(check(restricted, 'DELETE', '/1.0/storage-pools/:name', '/1.0/storage-pools/x'), 403);
  t.equal(check(restricted, 'GET', '/1.0/storage-pools/:pool/volumes', '/1.0/storage-pools/x/volumes'), 403);
  t.equal(check(restricted, 'GET', '/1.0/storage-pools/:pool/volumes', '/1.0/storage-pools/x/volumes?project=p'), null);
  t.equal(check(restricted, 'GET', '/1.0/operations/:id', '/1.0/operations/op-default?project=p'), 403);
  t.equal(check(restricted, 'DELETE', '/1.0/operations/:id', '/1.0/operations/op-p'), null);
  t.equal(check(restricted, 'GET', '/1.0/events', '/1.0/events?project=p'), null);
  t.equal(check(admin, 'GET', '/1.0/instances', '/1.0/instances?all-projects=true'), null);
});

t.test('upgrade paths map to their routes', async (t) => {
  t.equal(upgradeRoute('/1.0/events'), '/1.0/events');
  t.equal(upgradeRoute('/1.0/operations/abc/websocket'), '/1.0/operations/:id/websocket');
  t.equal(upgradeRoute('/1.0/instances/c1/sftp'), '/1.0/instances/:name/sftp');
  t.equal(upgradeRoute('/1.0/other'), undefined);
});

t.test('listen addresses', async (t) => {
  t.same(parseListenAddress(':8443'), { host: undefined, port: 8443 });
  t.same(parseListenAddress('127.0.0.1'), { host: '127.0.0.1', port: 8443 });
  t.same(parseListenAddress('[::1]:9000'), { host: '::1', port: 9000 });
  t.same(parseListenAddress('::1'), { host: '::1', port: 8443 });
  t.same(listenAddresses(''), []);
  t.same(listenAddresses('10.1.2.3:7000'), ['10.1.2.3:7000']);
  t.same(listenAddresses('[2001:db8::1]'), ['[2001:db8::1]:8443']);
  t.notOk(listenAddresses('0.0.0.0').some((a) => a.startsWith('127.') || a.startsWith('[')), 'wildcard IPv4: global IPv4 only');
});

t.test('tokens and core.remote_token_expiry', async (t) => {
  const tok = { client_name: 'laptop', fingerprint: 'ff', addresses: ['127.0.0.1:8443'], secret: 's3', expires_at: ZERO_TIME };
  t.same(decodeCertificateToken(encodeCertificateToken(tok)), tok);
  t.same(JSON.parse(Buffer.from(encodeCertificateToken(tok), 'base64').toString()), tok, 'base64 of Incus JSON field names');
  t.throws(() => decodeCertificateToken('!!!'));
  t.throws(() => decodeCertificateToken(Buffer.from(JSON.stringify({ ...tok, secret: '' })).toString('base64')), /No secret/);
  t.equal(serverKeyProblem('core.remote_token_expiry', '1d 3H'), null);
  t.match(serverKeyProblem('core.remote_token_expiry', 'tomorrow'), /Invalid expiry expression/);
});

t.test('odd request targets never bypass the checks', async (t) => {
  t.equal(check(admin, 'GET', undefined, '//internal/ready'), 403, 'doubled slashes');
  t.equal(requestUrl('http://[::1').pathname, '/', 'unparseable absolute form');
  t.equal(requestUrl('http://evil/1.0/instances').pathname, '/', 'absolute form is not a path');
  t.equal(requestUrl('/1.0/instances?project=p').searchParams.get('project'), 'p');
});
