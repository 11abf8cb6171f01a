/**
 * kill -9 of the daemon in the middle of a copy: after a restart no
 * half-copied instance is listed, and a volume left on the pool is reported
 * by `incus admin recover` (copies write their database rows last).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('kill -9 during a copy leaves no half-copied instance', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['init', 'busybox', 'big'])).code, 0);
  const pool = join(d.dir, 'storage-pools', 'default', 'containers');
  const blob = join(pool, 'big', 'rootfs', 'root', 'blob');
  const dd = spawnSync('sh', ['-c', `head -c 400M /dev/urandom > ${blob}`]);
  t.equal(dd.status, 0, 'a 400 MiB file in the source');
  const want = sha(blob);

  const r = await rawRequest(d.socket, 'POST', '/1.0/instances', JSON.stringify({ name: 'cp1', source: { type: 'copy', source: 'big' } }));
  t.equal(r.status, 202, JSON.stringify(r.body));
  const target = join(pool, 'cp1');
  for (let i = 0; i < 400 && !existsSync(target); i++) await sleep(5);
  await d.signal('SIGKILL');

  // The copy tool the daemon ran may still be writing: wait until the target stops growing.
  const size = (): number => {
    const du = spawnSync('du', ['-sb', target], { encoding: 'utf8' });
    return du.status === 0 ? Number(du.stdout.split('\t')[0]) : -1;
  };
  for (let last = -2, now = size(); now !== last; last = now, now = size()) await sleep(500);

  await d.start();
  const listed = (await d.client.getInstances(0)) as string[];
  if (listed.includes('/1.0/instances/cp1')) {
    const copy = join(target, 'rootfs', 'root', 'blob');
    t.ok(existsSync(copy) && statSync(copy).size === 400 * 1024 * 1024 && sha(copy) === want, 'the copy finished before the kill and is complete');
  } else {
    t.pass('the interrupted copy is not listed');
    if (existsSync(target)) {
      const rec = await d.cli(['admin', 'recover'], 'no\nyes\nno\n');
      t.match(rec.stdout, /cp1/, 'admin recover reports the orphaned volume');
    } else {
      t.pass('and no volume was left behind');
    }
  }
  t.equal((await d.client.getInstanceState('big')).status, 'Stopped', 'the source is untouched');
  t.equal(sha(blob), want);
});
