/**
 * Clustering a standalone host (issue 20): `PUT /1.0/cluster` bootstraps a
 * one-member cluster on a real daemon listening on 127.0.0.1. Its data moves
 * from SQLite into dqlite under the running daemon; the member is listed
 * with Incus's fields; what is written afterwards lives in dqlite and
 * survives a restart; a second enable and an enable without an address are
 * refused as Incus refuses them. The member is renamed, edited and its
 * keys set, read and unset as Incus's `incus cluster` commands do.
 */
import t from 'tap';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLocalPort } from '../../bench/lib/free-port';
import { encodeCertificateToken } from '../../lib/api/certificate';
import { makeClientKeypair, TlsTransport } from './lib/tls-transport';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { api, waitOp } from './lib/socket-api';

t.test('bootstrap a cluster on a standalone daemon', async (t) => {
  const d = await withDaemon(t);

  // Without an address: the CLI refuses first, the server's operation fails as Incus's Bootstrap does.
  const noNet = await d.cli(['cluster', 'enable', 'm1']);
  t.equal(noNet.code, 1);
  t.equal(noNet.stderr, 'Error: This server is not available on the network\n');
  t.equal((await d.cli(['cluster', 'list'])).stderr, "Error: Server isn't part of a cluster\n");
  let r = await api(d, 'PUT', '/1.0/cluster', { server_name: 'm1', enabled: true });
  t.equal(r.status, 202);
  let op = await waitOp(d, r);
  t.equal(op.status, 'Failure');
  t.equal(op.err, 'No cluster.https_address config is set on this member');
  t.same((await api(d, 'GET', '/1.0/cluster')).body.metadata, { server_name: '', enabled: false, member_config: [] }, 'still standalone');

  r = await api(d, 'POST', '/1.0/cluster/members', { server_name: 'm2' });
  t.match(r, { status: 400, body: { error: 'This server is not clustered' } }, 'no join token while standalone');

  // Standalone: the one member row "none" at 0.0.0.0, as Incus keeps it.
  r = await api(d, 'GET', '/1.0/cluster/members');
  t.same(r.body.metadata, ['/1.0/cluster/members/none']);
  const rows = await d.cli(['admin', 'sql', 'global', "SELECT id, name, address, schema > 0 AND api_extensions > 0 FROM nodes"]);
  t.match(rows.stdout, /\| 1 +\| none \| 0\.0\.0\.0 \| 1 +\|/, 'its schema and API extensions recorded at start');

  t.equal((await d.cli(['init', 'busybox', 'before'])).code, 0, 'an instance made before');
  t.equal((await d.cli(['profile', 'create', 'p-before'])).code, 0, 'a profile made before');
  const port = await freeLocalPort();
  const address = `127.0.0.1:${port}`;
  t.equal((await d.cli(['config', 'set', 'core.https_address', address])).code, 0);

  const enable = await d.cli(['cluster', 'enable', 'm1']);
  t.equal(enable.stdout, 'Clustering enabled\n', enable.stderr);
  t.ok(existsSync(join(d.dir, 'cluster.crt')), 'cluster.crt made from server.crt');

  t.same((await api(d, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm1', enabled: true, member_config: [] });
  const server = (await api(d, 'GET', '/1.0')).body.metadata as { environment: Record<string, unknown>; config: Record<string, string> };
  const env = server.environment;
  t.equal(server.config['cluster.https_address'], address, 'cluster.https_address taken from core.https_address');
  t.equal((await d.cli(['config', 'set', 'cluster.https_address=127.0.0.1:1'])).stderr, 'Error: Changing cluster.https_address is currently not supported\n');
  t.equal(env.server_clustered, true);
  t.equal(env.server_name, 'm1');

  r = await api(d, 'GET', '/1.0/cluster/members');
  t.same(r.body.metadata, ['/1.0/cluster/members/m1']);
  r = await api(d, 'GET', '/1.0/cluster/members?recursion=1');
  const members = r.body.metadata as Record<string, unknown>[];
  t.equal(members.length, 1);
  t.match(members[0], {
    server_name: 'm1',
    url: `https://${address}`,
    database: true,
    status: 'Online',
    message: 'Fully operational',
    roles: ['database-leader', 'database'],
    failure_domain: 'default',
    description: '',
    config: {},
    groups: ['default'],
  });
  t.ok(typeof members[0]!.architecture === 'string' && members[0]!.architecture !== '', 'architecture named');
  r = await api(d, 'GET', '/1.0/cluster/members/m1');
  t.equal(r.status, 200);
  t.same(r.body.metadata, members[0]);
  t.equal((await api(d, 'GET', '/1.0/cluster/members/nope')).status, 404);

  // The data moved: what was made before is listed from dqlite.
  let ls = await d.cli(['list', '-c', 'nL', '-f', 'csv']);
  t.equal(ls.stdout.trim(), 'before,m1', 'the instance made before bootstrap, on this member');
  t.match((await d.cli(['list'])).stdout, /\| +LOCATION +\|/, 'incus list shows LOCATION once clustered');
  t.match((await d.cli(['profile', 'list', '-f', 'csv'])).stdout, /p-before/);
  t.equal((await d.cli(['profile', 'create', 'p-after'])).code, 0, 'a profile made after');

  // The CLI's views.
  t.equal((await d.cli(['cluster', 'list', '-f', 'csv'])).stdout, `m1,https://${address},"database-leader,database",${String(members[0]!.architecture)},default,,ONLINE,Fully operational\n`);
  const table = (await d.cli(['cluster', 'list'])).stdout;
  t.match(table, /\| +NAME +\| +URL +\| +ROLES +\| ARCHITECTURE \| FAILURE DOMAIN \| DESCRIPTION \| STATUS \| +MESSAGE +\|/);
  t.match(table, /\| m1 +\| https:\/\/127\.0\.0\.1:\d+ \| database-leader \|.*\n\| +\| +\| database +\|/, 'roles one a line');
  t.same(JSON.parse((await d.cli(['cluster', 'list', '-f', 'json'])).stdout), members);
  t.equal(
    (await d.cli(['cluster', 'show', 'm1'])).stdout,
    `roles:\n- database-leader\n- database\nfailure_domain: default\ndescription: ""\nconfig: {}\ngroups:\n- default\nserver_name: m1\nurl: https://${address}\ndatabase: true\nstatus: Online\nmessage: Fully operational\narchitecture: ${String(members[0]!.architecture)}\n`,
  );
  t.equal((await d.cli(['cluster', 'enable', 'm2'])).stderr, 'Error: This server is already clustered\n');

  // Join tokens: Incus's token format, listed, refused as trust tokens, revoked.
  const add = await d.cli(['cluster', 'add', 'm2']);
  t.equal(add.code, 0, add.stderr);
  const [head, tokenText] = add.stdout.trim().split('\n') as [string, string];
  t.equal(head, 'Member m2 join token:');
  const token = JSON.parse(Buffer.from(tokenText, 'base64').toString()) as Record<string, unknown>;
  t.same(Object.keys(token), ['server_name', 'fingerprint', 'addresses', 'secret', 'expires_at']);
  t.match(token, { server_name: 'm2', fingerprint: env.certificate_fingerprint, addresses: [address], secret: /^[0-9a-f]{64}$/ });
  const hours = (Date.parse(String(token.expires_at)) - Date.now()) / 3_600_000;
  t.ok(hours > 2.9 && hours <= 3, `expires in 3 hours (cluster.join_token_expiry default), got ${hours}`);
  t.equal((await d.cli(['cluster', 'list-tokens', '-f', 'csv'])).stdout, `m2,${tokenText},${String((await d.cli(['cluster', 'list-tokens', '-f', 'csv', '-c', 'E'])).stdout.trim())}\n`);
  t.equal((await d.cli(['config', 'trust', 'list-tokens', '-f', 'csv'])).stdout, '', 'no certificate add token listed');
  const running = ((await api(d, 'GET', '/1.0/operations?recursion=1')).body.metadata as { running?: { description: string; location: string }[] }).running ?? [];
  t.same(running.map((o) => [o.description, o.location]), [['Cluster join token', 'm1']], 'the token operation runs on m1');
  r = await api(d, 'POST', '/1.0/cluster/members', { server_name: 'm1' });
  t.match(r, { status: 500, body: { error: 'The cluster already has a member with name: m1' } });
  t.match(await api(d, 'POST', '/1.0/cluster/members', { server_name: 'bad name' }), { status: 400, body: { error: 'Invalid cluster member name: Name cannot contain white space' } });

  // A stranger presenting the join token's secret as a trust token gets no trust.
  const keys = mkdtempSync(join(tmpdir(), 'cluster-bootstrap-keys-'));
  const tls = new TlsTransport(address, makeClientKeypair(keys, 'stranger'), readFileSync(join(d.dir, 'server.crt'), 'utf8'));
  t.teardown(() => {
    tls.close();
    rmSync(keys, { recursive: true, force: true });
  });
  const trustToken = encodeCertificateToken({ client_name: 'stranger', fingerprint: String(token.fingerprint), addresses: [address], secret: String(token.secret), expires_at: String(token.expires_at) });
  const res = await tls.request({ method: 'POST', path: '/1.0/certificates', body: JSON.stringify({ trust_token: trustToken }), headers: { 'Content-Type': 'application/json' } });
  t.equal(res.status, 403, 'a join token is no trust token');
  t.equal((JSON.parse(res.body.toString()) as { error: string }).error, 'No matching certificate add operation found');

  // A new token for the same name replaces the old one.
  const again = (await d.cli(['cluster', 'add', 'm2', '-q'])).stdout.trim();
  t.not(again, tokenText);
  t.equal((await d.cli(['cluster', 'list-tokens', '-f', 'csv', '-c', 'n'])).stdout, 'm2\n', 'one token per name');
  t.equal((await d.cli(['cluster', 'revoke-token', 'm2'])).stdout, 'Cluster join token for m2 deleted\n');
  t.equal((await d.cli(['cluster', 'list-tokens', '-f', 'csv'])).stdout, '');
  t.equal((await d.cli(['cluster', 'revoke-token', 'm2'])).stderr, 'Error: No cluster join token for member m2 on remote: local\n');

  // Member management: rename, then description and config through set/get/unset, edit and PATCH.
  t.equal((await d.cli(['cluster', 'rename', 'm1', 'm9'])).stdout, 'Member m1 renamed to m9\n');
  t.same((await api(d, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm9', enabled: true, member_config: [] }, 'this member renamed itself');
  t.equal(((await api(d, 'GET', '/1.0')).body.metadata as { environment: { server_name: string } }).environment.server_name, 'm9');
  t.same((await api(d, 'GET', '/1.0/cluster/members')).body.metadata, ['/1.0/cluster/members/m9']);
  t.match((await d.cli(['cluster', 'show', 'm9'])).stdout, /\nserver_name: m9\n/);
  t.equal((await d.cli(['list', '-c', 'nL', '-f', 'csv'])).stdout.trim(), 'before,m9', 'the instance is on the renamed member');
  t.match(await api(d, 'GET', '/1.0/cluster/members/m1'), { status: 404, body: { error: 'Cluster member not found' } });
  t.equal((await d.cli(['cluster', 'rename', 'nope', 'x'])).stderr, 'Error: Cluster member not found\n');
  t.match(await api(d, 'POST', '/1.0/cluster/members/m9', { server_name: 'bad name' }), { status: 400, body: { error: 'Invalid cluster member name: Name cannot contain white space' } });
  t.equal((await d.cli(['cluster', 'set', 'm9', 'description=hi', '--property'])).code, 0);
  t.equal((await d.cli(['cluster', 'get', 'm9', 'description', '--property'])).stdout, 'hi\n');
  t.equal((await d.cli(['cluster', 'set', 'm9', 'user.foo=bar'])).code, 0);
  t.equal((await d.cli(['cluster', 'get', 'm9', 'user.foo'])).stdout, 'bar\n');
  t.equal((await d.cli(['cluster', 'get', 'm9', 'user.nope'])).stderr, 'Error: The key "user.nope" does not exist on cluster member "m9"\n');
  t.equal((await d.cli(['cluster', 'set', 'm9', 'foo=bar'])).stderr, 'Error: Invalid cluster configuration key "foo"\n');
  t.equal((await d.cli(['cluster', 'set', 'm9', 'scheduler.instance=bad'])).stderr, 'Error: Invalid cluster configuration key "scheduler.instance" value\n');
  t.equal((await d.cli(['cluster', 'get', 'nope', 'user.foo'])).stderr, 'Error: Cluster member not found\n');
  t.equal((await d.cli(['cluster', 'set', 'nope', 'user.foo=1'])).stderr, 'Error: Cluster member not found\n');
  t.match((await d.cli(['cluster', 'show', 'm9'])).stdout, /\ndescription: hi\nconfig:\n  user.foo: bar\n/);
  t.match((await d.cli(['cluster', 'list', '-f', 'csv', '-c', 'nd'])).stdout, 'm9,hi\n');
  t.equal((await d.cli(['cluster', 'unset', 'm9', 'user.foo'])).code, 0);
  t.same((await api(d, 'GET', '/1.0/cluster/members/m9')).body.metadata, { ...members[0], server_name: 'm9', description: 'hi', config: {} }, 'the key unset');
  t.equal((await d.cli(['cluster', 'unset', 'm9', 'description', '--property'])).code, 0);
  t.equal((await d.cli(['cluster', 'get', 'm9', 'description', '--property'])).stdout, '\n');
  const edit = await d.cli(['cluster', 'edit', 'm9'], 'roles:\n- database\ndescription: edited\nconfig:\n  scheduler.instance: manual\ngroups:\n- default\n');
  t.equal(edit.code, 0, edit.stderr);
  r = await api(d, 'PATCH', '/1.0/cluster/members/m9', { roles: ['database'], groups: ['default'], description: 'patched', config: { 'user.a': '1' } });
  t.equal(r.status, 200, String(r.body.error));
  t.match((await api(d, 'GET', '/1.0/cluster/members/m9')).body.metadata, { description: 'patched', config: { 'scheduler.instance': 'manual', 'user.a': '1' } }, 'PATCH keeps the keys it is not given');
  t.match(await api(d, 'PUT', '/1.0/cluster/members/m9', { roles: [], groups: ['default'] }), { status: 400, body: { error: 'The "database" role cannot be dropped at this time' } });
  t.match(await api(d, 'PUT', '/1.0/cluster/members/m9', { roles: ['database'], groups: [] }), { status: 400, body: { error: 'Cluster members need to belong to at least one group' } });
  t.match(await api(d, 'PUT', '/1.0/cluster/members/nope', { roles: [], groups: ['default'] }), { status: 404, body: { error: 'Cluster member not found' } });
  const stale = await rawRequest(d.socket, 'PUT', '/1.0/cluster/members/m9', JSON.stringify({ roles: ['database'], groups: ['default'] }), { 'If-Match': '"stale"' });
  t.equal(stale.status, 412, 'a stale ETag is refused');
  t.equal((await d.cli(['cluster', 'rename', 'm9', 'm1', '-q'])).stdout, '', 'renamed back');
  t.same((await api(d, 'GET', '/1.0/cluster/members')).body.metadata, ['/1.0/cluster/members/m1']);

  // A second enable through the API: the operation fails as Incus's does (the cluster certificate is there).
  r = await api(d, 'PUT', '/1.0/cluster', { server_name: 'm1', enabled: true });
  op = await waitOp(d, r);
  t.equal(op.err, 'Inconsistent state: found leftover cluster certificate');
  t.equal((await api(d, 'PUT', '/1.0/cluster', { server_name: '', enabled: true })).body.error, 'ServerName is required when enabling clustering');

  // Restart: the daemon opens the cluster's database, not the SQLite file.
  await d.signal('SIGTERM');
  await d.start();
  t.same((await api(d, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm1', enabled: true, member_config: [] }, 'still clustered');
  t.match((await api(d, 'GET', '/1.0/cluster/members/m1')).body.metadata, { description: 'patched', config: { 'scheduler.instance': 'manual', 'user.a': '1' } }, 'the member edits survived the restart');
  const profiles = (await d.cli(['profile', 'list', '-f', 'csv'])).stdout;
  t.match(profiles, /p-after/, 'the profile made after bootstrap survived the restart');
  t.match(profiles, /p-before/);
  t.notOk(existsSync(join(d.dir, 'database', 'global', 'db.bin')), 'the standalone SQLite file moved aside');
  const sqlite = new Database(join(d.dir, 'database', 'global', 'db.bin.standalone'), { readonly: true });
  const left = sqlite.prepare("SELECT name FROM profiles WHERE name IN ('p-before', 'p-after')").all();
  sqlite.close();
  t.same(left, [{ name: 'p-before' }], 'the SQLite file left behind never saw the later profile: the daemon runs on dqlite');
  ls = await d.cli(['list', '-c', 'n', '-f', 'csv']);
  t.equal(ls.stdout.trim(), 'before');
  r = await api(d, 'GET', '/1.0/cluster/members?recursion=1');
  t.same((r.body.metadata as { roles: string[] }[])[0]!.roles, ['database-leader', 'database'], 'leader again after the restart');
  t.equal((await d.cli(['delete', 'before'])).code, 0, 'instance deleted on the cluster database');
});
