/**
 * `/1.0/instances/{name}/logs`: the list (lxc.log, never lxc.conf or
 * console.log), reading a file, the name checks, deletion rules, and
 * `incus info NAME --show-log`, against a real daemon and container.
 */
import t from 'tap';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deleteInstanceLogFile, getInstanceLogFiles } from '../../lib/client/console';
import { ApiError } from '../../lib/client/errors';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

t.test('instance logs', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0, 'launch c1');
  const dir = join(d.dir, 'logs', 'c1');
  const lxcLog = join(dir, 'lxc.log');
  // A line of our own, so that the content checks do not depend on what liblxc logged.
  appendFileSync(lxcLog, 'marker-from-the-test\n');

  await t.test('the list holds lxc.log and nothing the API does not serve', async (t) => {
    const raw = await rawRequest(d.socket, 'GET', '/1.0/instances/c1/logs');
    t.equal(raw.status, 200);
    const urls = raw.body.metadata as string[];
    t.ok(urls.includes('/1.0/instances/c1/logs/lxc.log'), `lists lxc.log: ${JSON.stringify(urls)}`);
    t.ok(existsSync(join(dir, 'lxc.conf')) && existsSync(join(dir, 'console.log')), 'lxc.conf and console.log exist on disk');
    t.notOk(urls.some((u) => u.endsWith('/lxc.conf') || u.endsWith('/console.log')), 'but are not listed');
    t.same(await getInstanceLogFiles(d.client, 'c1'), urls.map((u) => u.split('/').pop()), 'the client returns the names');
  });

  await t.test('GET returns the file as it is on disk', async (t) => {
    const res = await d.client.transport.request({ method: 'GET', path: '/1.0/instances/c1/logs/lxc.log' });
    t.equal(res.status, 200);
    t.equal(res.headers['content-type'], 'application/octet-stream');
    t.equal(res.body.toString(), readFileSync(lxcLog, 'utf8'), 'same bytes as lxc.log');
    t.match(res.body.toString(), /marker-from-the-test/);
    t.equal(await d.client.getInstanceLogFile('c1', 'lxc.log'), readFileSync(lxcLog, 'utf8'));
  });

  await t.test('bad names and missing files', async (t) => {
    for (const name of ['lxc.conf', 'console.log', '..%2Flxc.log', '..%2F..%2Fdatabase%2Flocal.db', 'anything.txt']) {
      const r = await rawRequest(d.socket, 'GET', `/1.0/instances/c1/logs/${name}`);
      t.equal(r.status, 400, `${name}: 400`);
      t.match(String(r.body.error), /^Log file name ".*" not valid$/);
    }
    const missing = await rawRequest(d.socket, 'GET', '/1.0/instances/c1/logs/snapshot_none.log');
    t.equal(missing.status, 404, 'a valid name that does not exist: 404');
    t.equal((await rawRequest(d.socket, 'GET', '/1.0/instances/nope/logs')).status, 404, 'unknown instance: 404 (list)');
    const nope = await rawRequest(d.socket, 'GET', '/1.0/instances/nope/logs/lxc.log');
    t.equal(nope.status, 404, 'unknown instance: 404 (file)');
    t.equal(nope.body.error, 'Instance not found');
  });

  await t.test('deletion follows Incus: only extra *.log files', async (t) => {
    const refused = await deleteInstanceLogFile(d.client, 'c1', 'lxc.log').catch((e: unknown) => e);
    t.ok(refused instanceof ApiError && refused.status === 400, 'lxc.log cannot be deleted');
    t.equal((refused as Error).message, 'Only log files excluding qemu.log and lxc.log may be deleted');
    t.ok(existsSync(lxcLog), 'lxc.log is still there');

    writeFileSync(join(dir, 'snapshot_snap0.log'), 'snapshot log\n');
    t.ok((await getInstanceLogFiles(d.client, 'c1')).includes('snapshot_snap0.log'), 'a snapshot log is listed');
    await deleteInstanceLogFile(d.client, 'c1', 'snapshot_snap0.log');
    t.notOk(existsSync(join(dir, 'snapshot_snap0.log')), 'and deleted');
    const again = await rawRequest(d.socket, 'DELETE', '/1.0/instances/c1/logs/snapshot_snap0.log');
    t.equal(again.status, 404, 'deleting it again: 404');
    t.equal((await rawRequest(d.socket, 'DELETE', '/1.0/instances/c1/logs/lxc.conf')).status, 400, 'lxc.conf: 400');
  });

  await t.test('incus info --show-log prints lxc.log', async (t) => {
    const r = await d.cli(['info', 'c1', '--show-log']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /Name: c1/);
    t.match(r.stdout, /Log \(lxc\.log\):/);
    t.match(r.stdout, /marker-from-the-test/);
  });

  await t.test('logs stay readable once the instance is stopped', async (t) => {
    t.equal((await d.cli(['stop', '-f', 'c1'])).code, 0, 'stop');
    t.match(await d.client.getInstanceLogFile('c1', 'lxc.log'), /marker-from-the-test/);
  });
});
