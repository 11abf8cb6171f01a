/**
 * `incus image copy` between two daemons on 127.0.0.1 HTTPS in pull, push
 * and relay mode, both ways: the copy's fingerprint is the source's, for a
 * unified and a split image, private ones included (one-time secrets);
 * aliases, --public and --target-project in every mode; bad input refused.
 * Then the REST side of push: the target's push token and
 * POST /1.0/images/{fp}/export, with a wrong secret, an image the token
 * does not name and an unreachable target leaving nothing on the target.
 * Last, from a simplestreams server: relay, and push refused.
 */
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Image } from '../../lib/api/image';
import { buildBusyboxImage } from '../../lib/image-builder/busybox';
import { addImageToTree } from '../../lib/simplestreams/tree';
import { freeLocalPort } from '../../bench/lib/free-port';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { imageFingerprint, runTool } from './lib/image';
import { serveDirectory } from './lib/static-server';
import { clientFor, expectOp, listen, ok, waitOp } from './lib/two-servers';

const sha = imageFingerprint;
const sh = runTool;

/** A busybox build (its own creation date, so its own fingerprint) and the same image split (metadata + rootfs tarball). */
async function images(dir: string): Promise<{ unified: string; meta: string; root: string }> {
  mkdirSync(dir);
  const unified = (await buildBusyboxImage({ output: join(dir, 'u.tar.xz'), creationDate: 1_700_300_000 })).path;
  const other = (await buildBusyboxImage({ output: join(dir, 'o.tar.xz'), creationDate: 1_700_400_000 })).path;
  const stage = join(dir, 'stage');
  mkdirSync(stage);
  sh('tar', ['-xf', other, '-C', stage]);
  const meta = join(dir, 's.meta.tar.xz');
  const root = join(dir, 's.rootfs.tar.xz');
  sh('tar', ['-cJf', meta, '-C', stage, 'metadata.yaml', 'templates']);
  sh('tar', ['-cJf', root, '-C', join(stage, 'rootfs'), '.']);
  return { unified, meta, root };
}

const list = (d: TestDaemon, project?: string): Promise<Image[]> => (project ? d.client.useProject(project) : d.client).getImages(1);
const find = async (d: TestDaemon, fp: string, project?: string): Promise<Image | undefined> => (await list(d, project)).find((i) => i.fingerprint === fp);
const aliasNames = (i: Image | undefined): string[] => (i?.aliases ?? []).map((a) => a.name).sort();
/** What the image store holds on disk (leftovers of a failed upload included). */
const storeFiles = (d: TestDaemon): string[] => readdirSync(join(d.dir, 'images')).sort();

t.test('image copy in pull, push and relay mode, both ways: same fingerprint, aliases, public, target project', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const bAddr = (await listen(b)).address;
  const incus = await clientFor(t, a, b, bAddr);
  const files = await images(join(a.dir, 'src'));
  const fpU = sha(files.unified);
  const fpS = sha(files.meta, files.root);
  ok(t, await incus(['image', 'import', files.unified, '--alias', 'uni']), 'import the unified image (private)');
  ok(t, await incus(['image', 'import', files.meta, files.root, '--alias', 'spl']), 'import the split image (private)');
  ok(t, await incus(['image', 'alias', 'create', 'uni2', fpU]), 'second alias');
  ok(t, await a.cli(['project', 'create', 'back', '-c', 'features.images=true']), 'a project for the copies coming back');

  for (const mode of ['pull', 'push', 'relay']) {
    const u = await incus(['image', 'copy', 'local:uni', 'b:', '--mode', mode, '--copy-aliases', '--alias', `u-${mode}`]);
    ok(t, u, `${mode}: copy the unified image`);
    t.match(u.stdout, 'Image copied successfully!');
    const gotU = await find(b, fpU);
    t.ok(gotU, `${mode}: the target has the unified image under the source's fingerprint`);
    t.same(aliasNames(gotU), ['u-' + mode, 'uni', 'uni2'].sort(), `${mode}: --copy-aliases and --alias`);
    t.equal(gotU?.public, false, `${mode}: private unless --public`);

    ok(t, await incus(['image', 'copy', 'local:spl', 'b:', '--mode', mode, '--alias', `s-${mode}`, '--public']), `${mode}: copy the split image`);
    const gotS = await find(b, fpS);
    t.ok(gotS, `${mode}: the split image's fingerprint is the source's`);
    t.same(aliasNames(gotS), [`s-${mode}`], `${mode}: only --alias without --copy-aliases`);
    t.equal(gotS?.public, true, `${mode}: --public`);
    t.equal(gotS?.size, (await find(a, fpS))?.size, `${mode}: same size`);

    // Back from b (over HTTPS, the image private there) into another project of a.
    ok(t, await incus(['image', 'copy', `b:u-${mode}`, 'local:', '--mode', mode, '--target-project', 'back', '--alias', 'home']), `${mode}: copy back to --target-project`);
    const back = await find(a, fpU, 'back');
    t.ok(back, `${mode}: the copy back has the same fingerprint, in project "back"`);
    t.same(aliasNames(back), ['home'], `${mode}: its alias is in that project`);

    t.notOk((await a.client.getOperations()).some((o) => o.class === 'token' && o.status === 'Running'), `${mode}: no secret left on the source`);
    t.notOk((await b.client.getOperations()).some((o) => o.class === 'token' && o.status === 'Running'), `${mode}: no token left on the target`);
    ok(t, await incus(['image', 'delete', `b:${fpU}`, `b:${fpS}`]), `${mode}: clean the target`);
    ok(t, await incus(['image', 'delete', fpU, '--project', 'back']), `${mode}: clean project "back"`);
  }

  // An instance from an image only b holds: a's daemon pulls it from b's HTTPS address, trusting the certificate the client pinned for b.
  const onlyB = (await buildBusyboxImage({ output: join(a.dir, 'src', 'b-only.tar.xz'), creationDate: 1_700_500_000 })).path;
  ok(t, await b.cli(['image', 'import', onlyB, '--alias', 'bonly']), 'an image only b has (private)');
  ok(t, await incus(['init', 'b:bonly', 'local:fromb']), 'init from an image on the HTTPS remote b: with its self-signed certificate');
  t.ok(await find(a, sha(onlyB)), 'a cached the image from b');
  ok(t, await incus(['delete', 'local:fromb']), 'clean the instance');

  const auto = await incus(['image', 'copy', 'local:uni', 'b:', '--mode', 'push', '--auto-update']);
  t.not(auto.code, 0, '--auto-update outside pull mode is refused');
  t.match(auto.stderr, 'Auto update is only available in pull mode');
  const bad = await incus(['image', 'copy', 'local:uni', 'b:', '--mode', 'sideways']);
  t.not(bad.code, 0, 'an unknown mode is refused');
  t.match(bad.stderr, 'Invalid transfer mode "sideways": use pull, push or relay');
  t.notOk(await find(b, fpU), 'nothing copied by the refused commands');
});

/** POST with no client certificate (an untrusted caller), trusting any server certificate. */
function untrusted(address: string, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, address), { method, headers, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(method !== 'POST' ? undefined : headers['Content-Type'] === 'application/json' ? '{"source":{"type":"instance","name":"c1"}}' : 'x');
  });
}

t.test('REST push: push token on the target, POST /1.0/images/{fp}/export on the source, failures store nothing', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const bl = await listen(b);
  const files = await images(join(a.dir, 'src'));
  const fpU = sha(files.unified);
  const fpS = sha(files.meta, files.root);
  ok(t, await a.cli(['image', 'import', files.unified, '--alias', 'uni']), 'import unified');
  ok(t, await a.cli(['image', 'import', files.meta, files.root, '--alias', 'spl']), 'import split');
  const token = async (fp: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> => {
    const op = await expectOp(b, 'POST', '/1.0/images', { source: { mode: 'push', fingerprint: fp }, ...extra });
    t.match(op.metadata.secret, /^[0-9a-f]{64}$/, 'the token operation holds a secret');
    return { id: op.id, secret: op.metadata.secret as string };
  };
  const exportTo = (fp: string, body: Record<string, unknown>) => expectOp(a, 'POST', `/1.0/images/${fp}/export`, body);

  const tk = await token(fpU, { aliases: [{ name: 'pushed', description: 'by REST' }], public: true, properties: { os: 'BusyBox', note: 'pushed' } });
  const exp = await exportTo(fpU, { target: bl.address, certificate: bl.certificate, secret: tk.secret });
  const done = await waitOp(a, exp.id);
  t.equal(done.status, 'Success', `export: ${done.err}`);
  const got = await find(b, fpU);
  t.ok(got, 'the target stored the image under the source fingerprint');
  t.equal(got?.public, true, 'public from the token');
  t.equal(got?.properties.note, 'pushed', 'properties from the token');
  t.same(got?.aliases, [{ name: 'pushed', description: 'by REST' }], 'aliases from the token');
  t.equal((await waitOp(b, tk.id)).status, 'Cancelled', 'the token is used up');

  // Split image, in a project of the target.
  ok(t, await b.cli(['project', 'create', 'p', '-c', 'features.images=true']), 'project p on the target');
  const tp = await expectOp(b, 'POST', '/1.0/images?project=p', { source: { mode: 'push', fingerprint: fpS } });
  const expS = await exportTo(fpS, { target: bl.address, certificate: bl.certificate, secret: tp.metadata.secret, project: 'p' });
  t.equal((await waitOp(a, expS.id)).status, 'Success', 'split image pushed into project p');
  t.ok(await find(b, fpS, 'p'), 'in project p, same fingerprint');
  t.notOk(await find(b, fpS), 'not in the default project');

  const before = storeFiles(b);
  const imagesBefore = (await list(b)).map((i) => i.fingerprint).sort();
  // A wrong secret.
  const tk2 = await token(fpS);
  const wrong = await waitOp(a, (await exportTo(fpS, { target: bl.address, certificate: bl.certificate, secret: 'f'.repeat(64) })).id);
  t.equal(wrong.status, 'Failure', 'a wrong secret fails the export');
  t.match(wrong.err, 'not authorized');
  // A secret for another image.
  const other = await waitOp(a, (await exportTo(fpS, { target: bl.address, certificate: bl.certificate, secret: tk.secret })).id);
  t.equal(other.status, 'Failure', 'a used-up secret fails');
  const tk3 = await token(fpU);
  const mismatch = await waitOp(a, (await exportTo(fpS, { target: bl.address, certificate: bl.certificate, secret: tk3.secret })).id);
  t.equal(mismatch.status, 'Failure', "a secret for another image's token fails");
  // A certificate that is not the target's.
  const aCert = readFileSync(join(a.dir, 'server.crt'), 'utf8');
  const pinned = await waitOp(a, (await exportTo(fpS, { target: bl.address, certificate: aCert, secret: tk2.secret })).id);
  t.equal(pinned.status, 'Failure', 'the target must present the named certificate');
  // Nobody listening.
  const gone = await waitOp(a, (await exportTo(fpS, { target: `https://127.0.0.1:${await freeLocalPort()}`, certificate: bl.certificate, secret: tk2.secret })).id);
  t.equal(gone.status, 'Failure', 'an unreachable target fails the export');
  t.match(gone.err, /ECONNREFUSED|connect/);
  t.same(storeFiles(b), before, 'no file left on the target by the failures');
  t.same((await list(b)).map((i) => i.fingerprint).sort(), imagesBefore, 'no image added on the target');
  const live = async (id: string): Promise<string> => ((await rawRequest(b.socket, 'GET', `/1.0/operations/${id}`)).body.metadata as { status: string }).status;
  t.equal(await live(tk2.id), 'Running', 'a token no push reached stays usable');
  t.equal(await live(tk3.id), 'Running', 'a token is not used up by a push of another image');

  // Refused requests.
  const ex = (fp: string, body: unknown) => rawRequest(a.socket, 'POST', `/1.0/images/${fp}/export`, JSON.stringify(body));
  t.equal((await ex('0'.repeat(64), { target: bl.address, secret: 'x' })).status, 404, 'unknown image: 404');
  const noTarget = await ex(fpU, { secret: 'x' });
  t.equal(noTarget.status, 400, 'no target: 400');
  t.match(noTarget.body.error, 'A target server is required');
  t.equal((await ex(fpU, { target: 'ftp://127.0.0.1/', secret: 'x' })).status, 400, 'a target that is not https: 400');
  t.equal((await ex(fpU, { target: bl.address, aliases: 'x' })).status, 400, 'malformed aliases: 400');
  const noFp = await rawRequest(b.socket, 'POST', '/1.0/images', JSON.stringify({ source: { mode: 'push' } }));
  t.equal(noFp.status, 400, 'a push token needs the fingerprint');

  // Untrusted callers: an upload needs a live secret, a wait needs the operation's secret.
  t.equal(await untrusted(bl.address, 'POST', '/1.0/images', { 'Content-Type': 'application/octet-stream' }), 403, 'untrusted upload without secret: 403');
  t.equal(
    await untrusted(bl.address, 'POST', '/1.0/images', { 'Content-Type': 'application/octet-stream', 'X-Incus-fingerprint': fpS, 'X-Incus-secret': 'f'.repeat(64) }),
    403,
    'untrusted upload with a wrong secret: 403',
  );
  t.equal(await untrusted(bl.address, 'POST', '/1.0/images', { 'Content-Type': 'application/json' }), 403, 'untrusted JSON: 403');
  t.equal(await untrusted(bl.address, 'GET', `/1.0/operations/${tk2.id}/wait?timeout=0`), 403, 'untrusted wait without secret: 403');
  t.equal(await untrusted(bl.address, 'GET', `/1.0/operations/${tk2.id}/wait?timeout=0&secret=${tk2.secret}`), 200, 'untrusted wait with the secret: 200');
  await rawRequest(b.socket, 'DELETE', `/1.0/operations/${tk2.id}`);
  await rawRequest(b.socket, 'DELETE', `/1.0/operations/${tk3.id}`);
  t.same(storeFiles(b), before, 'still nothing left on the target');
});

t.test('from a simplestreams server: relay goes through the client, push is refused', async (t) => {
  const d = await withDaemon(t);
  const conf = join(d.dir, 'client-conf');
  process.env.INCUS_CONF = conf;
  const src = join(d.dir, 'src');
  const files = await images(src);
  const tree = join(d.dir, 'tree');
  const fp = await addImageToTree(tree, files.unified, undefined, { productName: 'bb', aliases: ['bb'], noDefaultAlias: true });
  t.equal(fp, sha(files.unified));
  const srv = await serveDirectory(t, tree);
  ok(t, await d.cli(['remote', 'add', 'ss', srv.url, '--protocol', 'simplestreams']), 'remote add ss');
  const push = await d.cli(['image', 'copy', 'ss:bb', 'local:', '--mode', 'push']);
  t.not(push.code, 0, 'push from simplestreams is refused');
  t.match(push.stderr, 'Exporting images is not supported by the simplestreams protocol');
  ok(t, await d.cli(['image', 'copy', 'ss:bb', 'local:', '--mode', 'relay', '--copy-aliases', '--public']), 'relay from simplestreams');
  const got = await find(d, fp);
  t.ok(got, 'same fingerprint as the stream');
  t.ok(aliasNames(got).includes('bb'), 'aliases copied (the stream also lists bb/<arch>)');
  t.equal(got?.public, true, '--public');
  t.same(readdirSync(tmpdir()).filter((n) => n.startsWith('incus-image-copy-')), [], 'no temporary files left');
});
