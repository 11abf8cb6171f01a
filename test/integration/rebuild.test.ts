/**
 * `incus rebuild` / POST /1.0/instances/{name}/rebuild against a real
 * daemon: the root is made again from the image (or empty), what the
 * instance was (devices, snapshots, user config) stays, a running instance
 * is refused unless --force, and bad sources lose nothing.
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

t.test('rebuild from the same image wipes the root and keeps the rest', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1', '-c', 'user.keep=yes'])).code, 0);
  t.equal((await d.cli(['exec', 'c1', '--', 'touch', '/data.txt'])).code, 0);
  t.equal((await d.cli(['snapshot', 'create', 'c1', 'snap0'])).code, 0);

  const running = await d.cli(['rebuild', 'busybox', 'c1']);
  t.not(running.code, 0, 'a running instance is refused');
  t.match(running.stderr, /Instance must be stopped to be rebuilt/);
  t.equal((await d.cli(['exec', 'c1', '--', 'stat', '/data.txt'])).code, 0, 'and keeps its data');

  const forced = await d.cli(['rebuild', 'busybox', 'c1', '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.equal((await d.client.getInstanceState('c1')).status, 'Running', '--force starts it again');
  t.not((await d.cli(['exec', 'c1', '--', 'stat', '/data.txt'])).code, 0, 'the file written before is gone');
  t.equal((await d.cli(['exec', 'c1', '--', 'test', '-x', '/bin/sh'])).code, 0, 'the image content is back');
  const inst = await d.client.getInstance('c1');
  t.equal(inst.config['user.keep'], 'yes', 'own config kept');
  t.ok(inst.config['volatile.base_image'], 'volatile.base_image set');
  t.ok(Object.keys(inst.config).some((k) => k.startsWith('image.')), 'image.* keys set');
  t.same((await d.cli(['snapshot', 'list', 'c1', '-f', 'csv', '-c', 'n'])).stdout.trim(), 'snap0', 'snapshots kept');
  const restore = await d.cli(['snapshot', 'restore', 'c1', 'snap0']);
  t.equal(restore.code, 0, restore.stderr);
  t.equal((await d.cli(['exec', 'c1', '--', 'stat', '/data.txt'])).code, 0, 'the snapshot still holds the old file');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});

t.test('rebuild --empty leaves an empty root without image keys; an empty one rebuilds from an image and starts', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['init', 'busybox', 'c1'])).code, 0);
  const empty = await d.cli(['rebuild', 'c1', '--empty']);
  t.equal(empty.code, 0, empty.stderr);
  const inst = await d.client.getInstance('c1');
  t.notOk(Object.keys(inst.config).some((k) => k.startsWith('image.') || k === 'volatile.base_image'), 'no image keys left');

  t.equal((await d.cli(['rebuild', 'busybox', 'c1'])).code, 0);
  t.equal((await d.cli(['start', 'c1'])).code, 0);
  t.equal((await d.cli(['exec', 'c1', '--', 'true'])).code, 0);
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});

t.test('bad rebuild requests are refused with the field or image named, and change nothing', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['init', 'busybox', 'c1'])).code, 0);
  const before = await d.client.getInstance('c1');
  const missing = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/rebuild', JSON.stringify({ source: { type: 'image', alias: 'nope' } }));
  t.equal(missing.status, 404, JSON.stringify(missing.body));
  const bad = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/rebuild', JSON.stringify({ source: { type: 'copy' } }));
  t.equal(bad.status, 400);
  t.match(bad.body.error, /Unknown source type/);
  const noSource = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/rebuild', JSON.stringify({}));
  t.equal(noSource.status, 400);
  const noInst = await rawRequest(d.socket, 'POST', '/1.0/instances/nope/rebuild', JSON.stringify({ source: { type: 'none' } }));
  t.equal(noInst.status, 404);
  t.same((await d.client.getInstance('c1')).config, before.config, 'config untouched');
  t.equal((await d.cli(['start', 'c1'])).code, 0, 'and the instance still starts');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});
