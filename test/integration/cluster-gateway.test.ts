/**
 * A member's dqlite node reached the way other members reach it: mutual TLS
 * with the cluster certificate on an HTTPS server (127.0.0.1), then
 * `POST /internal/database` upgraded to `dqlite`. The gateway bootstraps a
 * one-member cluster from its local store, serves SQL to a remote client
 * through that link, and a peer with another certificate is refused.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureServerKeypair } from '../../lib/server/auth/server-cert';
import { ClusterGateway } from '../../lib/server/cluster/gateway';
import { LocalStore } from '../../lib/server/cluster/local-store';
import { acceptDatabaseUpgrade, databaseDial, isDatabaseUpgrade } from '../../lib/server/cluster/database-link';
import { DqliteClient } from '../../lib/server/db/dqlite';
import { DqliteEngine } from '../../lib/server/db/dqlite-engine';

const root = mkdtempSync(join(tmpdir(), 'cluster-gateway-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test('bootstrap, SQL over the upgraded link, a stranger refused', async (t) => {
  for (const d of ['member', 'stranger']) mkdirSync(join(root, d));
  const cert = await ensureServerKeypair(join(root, 'member'));
  const stranger = await ensureServerKeypair(join(root, 'stranger'));
  const cluster = { certPem: cert.certPem, keyPem: cert.keyPem };
  let gateway: ClusterGateway | null = null;
  const server = createServer({ cert: cert.certPem, key: cert.keyPem, requestCert: true, rejectUnauthorized: false }, (_req, res) => res.end('plain'));
  server.on('upgrade', (req, socket, head) => {
    if (isDatabaseUpgrade(req)) acceptDatabaseUpgrade(socket, head, cluster, gateway?.accept ?? null);
    else socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));

  const local = LocalStore.open(join(root, 'member'));
  local.setConfig({ 'cluster.https_address': address });
  local.setRaftNodes([{ id: 1, address, role: 'voter', name: 'm1' }]);
  t.equal(local.raftId, 1, 'the local store knows this member as raft id 1');
  gateway = new ClusterGateway(join(root, 'member'), local, () => cluster);
  t.teardown(async () => {
    await gateway?.stop();
    local.close();
  });
  await gateway.start();

  // A remote client: every connection goes through TLS and the upgrade.
  const remote = new DqliteClient({ addresses: [address], dial: databaseDial(() => cluster), leaderTimeoutMs: 10_000 });
  t.teardown(() => remote.close());
  const engine = await DqliteEngine.open(remote, 'db.bin');
  t.teardown(() => engine.close());
  await engine.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
  await engine.run('INSERT INTO things (name) VALUES (?)', ['one']);
  t.same(await engine.all('SELECT name FROM things'), [{ name: 'one' }], 'a write and a read over the link');
  t.same(await gateway.members(), [{ id: 1, address, role: 'voter' }], 'one voter');
  t.equal(await gateway.leaderAddress(), address, 'this member leads');

  // Through the gateway's own client (its own node on the local socket): the same data.
  const own = await gateway.openEngine();
  t.teardown(() => own.close());
  t.equal((await own.all('SELECT name FROM things')).length, 1);

  // A server with another certificate is not dialled; a client with another certificate is answered 403.
  const bad = databaseDial(() => ({ certPem: stranger.certPem, keyPem: stranger.keyPem }));
  await t.rejects(bad(address), /did not present the cluster certificate/, 'the dialler pins the cluster certificate');
  const answer = await new Promise<string>((resolve, reject) => {
    const [host, port] = address.split(':') as [string, string];
    const s = connect({ host, port: Number(port), cert: stranger.certPem, key: stranger.keyPem, rejectUnauthorized: false }, () => {
      s.write(`POST /internal/database HTTP/1.1\r\nHost: ${address}\r\nUpgrade: dqlite\r\nConnection: Upgrade\r\n\r\n`);
    });
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  t.match(answer, /^HTTP\/1\.1 403 /, 'a client with another certificate gets no database');
});
