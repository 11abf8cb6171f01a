/** Bad input gets a clear error, and a failed create leaves nothing behind. */
import t from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

t.test('API errors', async (t) => {
  const d = await withDaemon(t);
  const post = (body: string) => rawRequest(d.socket, 'POST', '/1.0/instances', body);

  const bad = await post(JSON.stringify({ name: 'bad_name!', source: { type: 'image', alias: 'busybox' } }));
  t.equal(bad.status, 400);
  t.equal(bad.body.error_code, 400);
  t.match(String(bad.body.error), /bad_name!/, 'the message names the invalid name');

  const missing = await rawRequest(d.socket, 'GET', '/1.0/instances/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.error, 'Instance not found');
  t.equal(missing.body.type, 'error');

  const malformed = await post('{"name": "x",');
  t.equal(malformed.status, 400);
  t.match(String(malformed.body.error), /JSON/);

  const wrongType = await post(JSON.stringify({ name: 'x1', ephemeral: 'yes', source: { type: 'none' } }));
  t.equal(wrongType.status, 400);
  t.match(String(wrongType.body.error), /ephemeral/, 'the message names the field');

  const first = await d.cli(['create', 'busybox', 'dup']);
  t.equal(first.code, 0, first.stderr);
  const dup = await post(JSON.stringify({ name: 'dup', source: { type: 'image', alias: 'busybox' } }));
  t.equal(dup.status, 409);
  t.match(String(dup.body.error), /dup/);

  const noImage = await post(JSON.stringify({ name: 'x2', source: { type: 'image', alias: 'no-such-image' } }));
  t.equal(noImage.status, 404);

  const unknownKey = await post(JSON.stringify({ name: 'x3', config: { 'bogus.key': '1' }, source: { type: 'none' } }));
  t.equal(unknownKey.status, 400);
  t.match(String(unknownKey.body.error), /bogus\.key/);

  const cli = await d.cli(['info', 'nope']);
  t.equal(cli.code, 1);
  t.match(cli.stderr, /^Error: .*not found/im);

  // Fetch metadata (Incus's CSRF check for browsers): another site's request is refused, even on the trusted socket.
  for (const site of ['cross-site', 'same-site']) {
    const r = await rawRequest(d.socket, 'GET', '/1.0', undefined, { 'Sec-Fetch-Site': site });
    t.equal(r.status, 403, `Sec-Fetch-Site: ${site}`);
    t.equal(r.body.error, 'Forbidden Sec-Fetch-Site header value');
  }
  for (const site of ['same-origin', 'none']) t.equal((await rawRequest(d.socket, 'GET', '/1.0', undefined, { 'Sec-Fetch-Site': site })).status, 200, `Sec-Fetch-Site: ${site}`);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/nowhere', undefined, { 'Sec-Fetch-Site': 'cross-site' })).status, 404, 'not an endpoint: still a 404');
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/profiles', JSON.stringify({ name: 'csrf' }), { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/profiles/csrf')).status, 404, 'the refused request changed nothing');
});

t.test('a create that fails half-way leaves no row and no directory', async (t) => {
  const d = await withDaemon(t);
  const img = (await d.client.getImages(1)) as { fingerprint: string }[];
  // Corrupt the stored image so that unpacking fails inside the operation.
  writeFileSync(join(d.dir, 'images', img[0].fingerprint), 'not a tarball');
  const r = await d.cli(['create', 'busybox', 'broken']);
  t.not(r.code, 0, 'create fails');
  t.match(r.stderr, /Error:/);
  const miss = await rawRequest(d.socket, 'GET', '/1.0/instances/broken');
  t.equal(miss.status, 404, 'no database row');
  const poolDir = join(d.dir, 'storage-pools', 'default', 'containers');
  t.same(readdirSync(poolDir), [], 'no volume directory');
  t.notOk(existsSync(join(d.dir, 'containers', 'broken')), 'no runtime link');
});

t.test('ETag and If-Match', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['create', 'busybox', 'e1'])).code, 0);
  const got = await rawRequest(d.socket, 'GET', '/1.0/instances/e1');
  const etag = String(got.headers.etag);
  t.match(etag, /^"[0-9a-f]{64}"$/);
  const md = got.body.metadata as Record<string, unknown>;
  const put = { config: { 'user.a': '1' }, devices: md.devices, profiles: md.profiles, ephemeral: false, architecture: md.architecture, description: '' };
  const stale = await rawRequest(d.socket, 'PUT', '/1.0/instances/e1', JSON.stringify(put), { 'If-Match': '"0000"' });
  t.equal(stale.status, 412);
  const ok = await rawRequest(d.socket, 'PUT', '/1.0/instances/e1', JSON.stringify(put), { 'If-Match': etag });
  t.equal(ok.status, 202, JSON.stringify(ok.body));
  const done = await rawRequest(d.socket, 'GET', `${String(ok.body.operation)}/wait?timeout=10`);
  t.equal((done.body.metadata as { status: string }).status, 'Success');
  const after = await d.client.getInstance('e1');
  t.equal(after.config['user.a'], '1');
  t.ok(after.config['volatile.base_image'], 'volatile keys survive a PUT');
});
