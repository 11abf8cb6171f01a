/**
 * Joining a cluster (issue 20): a second real daemon on 127.0.0.1 joins a
 * bootstrapped one with a join token through `PUT /1.0/cluster`. Both list
 * both members with their database roles; what one writes the other reads
 * (one dqlite database); the token is single use and a wrong secret is
 * refused, with Incus's messages. A member killed outright is reported
 * OFFLINE once its heartbeat is older than cluster.offline_threshold.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeLocalPort } from '../../bench/lib/free-port';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { api, waitOp } from './lib/socket-api';

async function listen(d: TestDaemon): Promise<string> {
  const address = `127.0.0.1:${await freeLocalPort()}`;
  const r = await d.cli(['config', 'set', 'core.https_address', address]);
  if (r.code !== 0) throw new Error(r.stderr);
  return address;
}

/** A join token for `name`, made on `d`. */
async function token(d: TestDaemon, name: string): Promise<string> {
  const r = await d.cli(['cluster', 'add', name, '-q']);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

const members = async (d: TestDaemon): Promise<{ server_name: string; url: string; roles: string[]; status: string }[]> =>
  (await api(d, 'GET', '/1.0/cluster/members?recursion=1')).body.metadata as { server_name: string; url: string; roles: string[]; status: string }[];

t.test('a second daemon joins a bootstrapped cluster with a join token', async (t) => {
  const m1 = await withDaemon(t);
  const m2 = await withDaemon(t);
  const a1 = await listen(m1);
  const a2 = await listen(m2);
  t.equal((await m1.cli(['cluster', 'enable', 'm1'])).stdout, 'Clustering enabled\n');
  const clusterCert = readFileSync(join(m1.dir, 'cluster.crt'), 'utf8');
  t.equal((await m2.cli(['profile', 'create', 'only-on-m2'])).code, 0, 'a profile on the joiner before it joins');

  // Checks made before the operation starts, as Incus's clusterPutJoin.
  let r = await api(m2, 'PUT', '/1.0/cluster', { server_name: 'm2', enabled: true, cluster_address: a1 });
  t.match(r, { status: 400, body: { error: 'No target cluster member certificate provided' } });
  r = await api(m2, 'PUT', '/1.0/cluster', { server_name: 'm2', enabled: true, cluster_address: a1, cluster_certificate: clusterCert });
  t.match(r, { status: 400, body: { error: 'No server address provided for this member' } });

  // A wrong secret: the cluster refuses to trust the joiner.
  const good = await token(m1, 'm2');
  const fields = JSON.parse(Buffer.from(good, 'base64').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...fields, secret: 'f'.repeat(64) })).toString('base64');
  const join2 = { server_name: 'm2', enabled: true, cluster_address: a1, cluster_certificate: clusterCert, server_address: a2 };
  let op = await waitOp(m2, await api(m2, 'PUT', '/1.0/cluster', { ...join2, cluster_token: forged }));
  t.equal(op.status, 'Failure');
  t.equal(op.err, 'Failed to setup cluster trust: Failed to add server cert to cluster: No matching cluster join operation found');
  t.same((await api(m2, 'GET', '/1.0/cluster')).body.metadata, { server_name: '', enabled: false, member_config: [] }, 'still standalone');

  // The real token: m2 joins.
  r = await api(m2, 'PUT', '/1.0/cluster', { ...join2, cluster_token: good });
  t.equal(r.status, 202);
  op = await waitOp(m2, r, 120);
  t.equal(op.status, 'Success', String(op.err));
  t.equal(op.description, 'Joining cluster');
  t.same((await api(m2, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm2', enabled: true, member_config: [] });
  t.equal(readFileSync(join(m2.dir, 'cluster.crt'), 'utf8'), clusterCert, 'the joiner holds the cluster certificate');

  // Both members list both, with their roles and URLs.
  for (const d of [m1, m2]) {
    const list = await members(d);
    t.same(
      list.map((m) => [m.server_name, m.url, m.roles, m.status]),
      [
        ['m1', `https://${a1}`, ['database-leader', 'database'], 'Online'],
        ['m2', `https://${a2}`, ['database-standby'], 'Online'],
      ],
    );
    const csv = (await d.cli(['cluster', 'list', '-f', 'csv', '-c', 'nus'])).stdout;
    t.equal(csv, `m1,https://${a1},ONLINE\nm2,https://${a2},ONLINE\n`);
  }

  // One database: what m2 writes, m1 reads; the joiner's own data is gone (Incus discards it).
  t.equal((await m2.cli(['profile', 'create', 'made-on-m2'])).code, 0);
  const profiles = (await m1.cli(['profile', 'list', '-f', 'csv', '-c', 'n'])).stdout;
  t.match(profiles, /made-on-m2/, 'a profile made on m2 is seen on m1');
  t.notMatch((await m2.cli(['profile', 'list', '-f', 'csv', '-c', 'n'])).stdout, /only-on-m2/, "the joiner's standalone data was dropped");

  // The same token again: used up.
  const m3 = await withDaemon(t);
  const a3 = await listen(m3);
  op = await waitOp(m3, await api(m3, 'PUT', '/1.0/cluster', { server_name: 'm2', enabled: true, cluster_address: a1, cluster_certificate: clusterCert, server_address: a3, cluster_token: good }));
  t.equal(op.status, 'Failure');
  t.equal(op.err, 'Failed to setup cluster trust: Failed to add server cert to cluster: No matching cluster join operation found', 'a token is single use');
  t.equal((await members(m1)).length, 2);

  // A third member joins through `incus admin init --preseed` with only the token and its own address.
  const preseed = `cluster:\n  enabled: true\n  server_address: ${a3}\n  cluster_token: ${await token(m1, 'm3')}\n`;
  const init = await m3.cli(['admin', 'init', '--preseed'], preseed);
  t.equal(init.code, 0, init.stderr);
  t.equal(init.stdout, '');
  t.same((await api(m3, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm3', enabled: true, member_config: [] }, 'named by the token');
  // Three members: three voters (Incus's rebalance).
  for (const d of [m1, m2, m3]) {
    t.same(
      (await members(d)).map((m) => [m.server_name, m.url, m.roles]),
      [
        ['m1', `https://${a1}`, ['database-leader', 'database']],
        ['m2', `https://${a2}`, ['database']],
        ['m3', `https://${a3}`, ['database']],
      ],
    );
  }
  t.match((await m3.cli(['profile', 'list', '-f', 'csv', '-c', 'n'])).stdout, /made-on-m2/, 'm3 reads the cluster database');

  // Renaming another member: m1 forwards it to m3, which learns its new name (Incus's clusterNodePost).
  const renamed = await m1.cli(['cluster', 'rename', 'm3', 'm4']);
  t.equal(renamed.stdout, 'Member m3 renamed to m4\n', renamed.stderr);
  t.same((await api(m3, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm4', enabled: true, member_config: [] }, 'm3 knows its new name');
  t.same((await members(m2)).map((m) => m.server_name), ['m1', 'm2', 'm4']);
  t.equal((await m2.cli(['cluster', 'rename', 'm4', 'm1'])).stderr, 'Error: The record already exists\n');
  t.equal((await m2.cli(['cluster', 'rename', 'm4', 'm3', '-q'])).code, 0, 'renamed back');
  t.same((await api(m3, 'GET', '/1.0/cluster')).body.metadata, { server_name: 'm3', enabled: true, member_config: [] });

  // Each member keeps its own core.https_address; a joined member restarts into the cluster.
  const httpsOf = async (d: TestDaemon): Promise<string | undefined> => ((await api(d, 'GET', '/1.0')).body.metadata as { config: Record<string, string> }).config['core.https_address'];
  t.same([await httpsOf(m1), await httpsOf(m2), await httpsOf(m3)], [a1, a2, a3]);
  await m2.signal('SIGTERM');
  await m2.start();
  t.equal(await httpsOf(m2), a2, 'm2 listens on its own address after a restart');
  t.same((await members(m2)).map((m) => m.server_name), ['m1', 'm2', 'm3'], 'm2 back in the cluster');
  t.equal((await m2.cli(['profile', 'create', 'after-restart'])).code, 0);
  t.match((await m1.cli(['profile', 'list', '-f', 'csv', '-c', 'n'])).stdout, /after-restart/);

  // A token that is no token, and a join into a cluster already joined.
  const bad = await m2.cli(['admin', 'init', '--preseed'], 'cluster:\n  enabled: true\n  server_address: 127.0.0.1:1\n  cluster_token: nope\n');
  t.equal(bad.stderr, 'Error: Invalid cluster join token: Invalid token\n');
  r = await api(m2, 'PUT', '/1.0/cluster', join2);
  t.match(r, { status: 400, body: { error: 'This server is already clustered' } });

  // Heartbeats: a member killed outright goes OFFLINE once its heartbeat is older than cluster.offline_threshold.
  t.equal((await m1.cli(['config', 'set', 'cluster.offline_threshold=10'])).stderr, "Error: cannot set 'cluster.offline_threshold' to '10': Value must be greater than '10'\n");
  t.equal((await m1.cli(['config', 'set', 'cluster.offline_threshold=soon'])).stderr, "Error: cannot set 'cluster.offline_threshold' to 'soon': invalid integer\n");
  t.equal((await m1.cli(['config', 'set', 'cluster.offline_threshold=11'])).code, 0);
  t.equal((await m2.cli(['config', 'get', 'cluster.offline_threshold'])).stdout, '11\n', 'a cluster-wide key');
  t.notOk((await members(m2)).find((m) => m.server_name === 'm3')?.roles.includes('database-leader'), 'm3 does not lead');
  const statusCsv = async (d: TestDaemon): Promise<string> => (await d.cli(['cluster', 'list', '-f', 'csv', '-c', 'ns'])).stdout;
  const waitFor = async (d: TestDaemon, want: string, seconds: number): Promise<string> => {
    let got = '';
    for (const end = Date.now() + seconds * 1000; Date.now() < end; await new Promise((res) => setTimeout(res, 1000))) {
      got = await statusCsv(d);
      if (got === want) break;
    }
    return got;
  };
  // Alive members keep beating past the threshold.
  await new Promise((res) => setTimeout(res, 13_000));
  t.equal(await statusCsv(m2), 'm1,ONLINE\nm2,ONLINE\nm3,ONLINE\n', 'all alive past the threshold');
  const killedPid = m3.pid;
  t.ok(killedPid > 0);
  await m3.signal('SIGKILL');
  t.equal(await waitFor(m2, 'm1,ONLINE\nm2,ONLINE\nm3,OFFLINE\n', 60), 'm1,ONLINE\nm2,ONLINE\nm3,OFFLINE\n', 'the killed member goes offline');
  const m3Info = (await api(m1, 'GET', '/1.0/cluster/members/m3')).body.metadata as { status: string; message: string };
  t.equal(m3Info.status, 'Offline');
  t.match(m3Info.message, /^No heartbeat for \d+s \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000\)$/);
  t.same((await members(m1)).map((m) => [m.server_name, m.status]), [['m1', 'Online'], ['m2', 'Online'], ['m3', 'Offline']]);
  await m3.start();
  t.equal(await waitFor(m1, 'm1,ONLINE\nm2,ONLINE\nm3,ONLINE\n', 30), 'm1,ONLINE\nm2,ONLINE\nm3,ONLINE\n', 'back online after a restart');
});
