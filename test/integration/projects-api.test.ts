/**
 * `/1.0/projects` against a real daemon: create with Incus's default
 * features and an own default profile, show/list/used_by, PUT/PATCH with
 * the features-only-while-empty rule, rename (async, empty only), delete
 * (default refused; non-empty refused naming what is left, nothing
 * removed; empty leaves no row), and bad input (unknown project, invalid
 * names, unknown features.* and limits.* keys).
 */
import t from 'tap';
import { rawRequest } from './lib/http';
import { type TestDaemon, withDaemon } from './lib/daemon';

type Body = Record<string, unknown>;
const meta = (b: Body): Body => b.metadata as Body;

async function q(d: TestDaemon, method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
  const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, body: r.body };
}

async function waitOp(d: TestDaemon, b: Body): Promise<Body> {
  const r = await q(d, 'GET', `/1.0/operations/${meta(b).id as string}/wait?timeout=30`);
  return meta(r.body);
}

t.test('projects API', async (t) => {
  const d = await withDaemon(t, { init: false });

  t.test('default project: features on, not deletable or renamable', async (t) => {
    const r = await q(d, 'GET', '/1.0/projects/default');
    t.equal(r.status, 200);
    const cfg = meta(r.body).config as Record<string, string>;
    for (const f of ['images', 'profiles', 'storage.volumes', 'storage.buckets', 'networks', 'networks.zones']) t.equal(cfg[`features.${f}`], 'true', f);
    t.match(meta(r.body).used_by, ['/1.0/profiles/default']);
    t.equal((await q(d, 'DELETE', '/1.0/projects/default')).status, 403);
    t.equal((await q(d, 'POST', '/1.0/projects/default', { name: 'other' })).status, 403);
    const ch = await q(d, 'PATCH', '/1.0/projects/default', { config: { 'features.images': 'false' } });
    t.equal(ch.status, 400);
    t.match(ch.body.error, "You can't change the features of the default project");
  });

  t.test('create: default features, own default profile, listed', async (t) => {
    const r = await q(d, 'POST', '/1.0/projects', { name: 'p1', description: 'first', config: { 'limits.instances': '3' } });
    t.equal(r.status, 200, JSON.stringify(r.body));
    const p = meta((await q(d, 'GET', '/1.0/projects/p1')).body);
    t.same(p.config, {
      'features.images': 'true', 'features.profiles': 'true', 'features.storage.volumes': 'true', 'features.storage.buckets': 'true',
      'limits.instances': '3',
    });
    t.equal(p.description, 'first');
    t.same(p.used_by, ['/1.0/profiles/default?project=p1']);
    const prof = await q(d, 'GET', '/1.0/profiles/default?project=p1');
    t.equal(prof.status, 200);
    t.equal(meta(prof.body).project, 'p1');
    t.same((await q(d, 'GET', '/1.0/projects')).body.metadata, ['/1.0/projects/default', '/1.0/projects/p1']);
    const full = meta(await q(d, 'GET', '/1.0/projects?recursion=1').then((x) => ({ metadata: x.body.metadata }) as Body)) as unknown as Body[];
    t.same(full.map((x) => x.name), ['default', 'p1']);
    const dup = await q(d, 'POST', '/1.0/projects', { name: 'p1' });
    t.equal(dup.status, 409);

    const noProfiles = await q(d, 'POST', '/1.0/projects', { name: 'p2', config: { 'features.profiles': 'false' } });
    t.equal(noProfiles.status, 200);
    t.equal((await q(d, 'GET', '/1.0/profiles/default?project=p2')).status, 200, 'p2 reads default\'s profiles');
    t.same(meta((await q(d, 'GET', '/1.0/projects/p2')).body).used_by, []);
  });

  t.test('bad input', async (t) => {
    const nf = await q(d, 'GET', '/1.0/projects/nope');
    t.equal(nf.status, 404);
    t.equal(nf.body.error, 'Project not found');
    t.equal((await q(d, 'GET', '/1.0/instances?project=nope')).status, 404);
    for (const [name, msg] of [
      ['a_b', 'Project names may not contain underscores'],
      ['..', 'Invalid project name'],
      ['*', 'Invalid project name'],
      ['a/b', 'Invalid project name'],
      ['', 'Invalid project name'],
    ]) {
      const r = await q(d, 'POST', '/1.0/projects', { name });
      t.equal(r.status, 400, `name ${JSON.stringify(name)}`);
      t.match(r.body.error, msg);
    }
    for (const key of ['features.bogus', 'limits.bogus', 'restricted.bogus', 'limits.disk.pool.nosuchpool']) {
      const r = await q(d, 'POST', '/1.0/projects', { name: 'px', config: { [key]: '1' } });
      t.equal(r.status, 400, key);
      t.equal(r.body.error, `Invalid project configuration key "${key}"`);
    }
    const badVal = await q(d, 'POST', '/1.0/projects', { name: 'px', config: { 'limits.memory': 'lots' } });
    t.equal(badVal.status, 400);
    t.match(badVal.body.error, 'Invalid project configuration key "limits.memory" value');
    const ovn = await q(d, 'POST', '/1.0/projects', { name: 'px', config: { 'features.networks': 'true' } });
    t.equal(ovn.status, 400);
    t.match(ovn.body.error, 'OVN is required');
    const unrestrictable = await q(d, 'POST', '/1.0/projects', { name: 'px', config: { restricted: 'true', 'features.profiles': 'false' } });
    t.equal(unrestrictable.status, 400);
    t.equal(unrestrictable.body.error, 'Projects without their own profiles cannot be restricted');
    const typeErr = await q(d, 'POST', '/1.0/projects', { name: 'px', config: { 'limits.cpu': 2 } });
    t.equal(typeErr.status, 400);
    t.equal((await q(d, 'GET', '/1.0/projects/px')).status, 404, 'nothing created by refused requests');
  });

  t.test('update: PUT and PATCH, etag, features only while empty', async (t) => {
    const cur = await rawRequest(d.socket, 'GET', '/1.0/projects/p1');
    const etag = cur.headers.etag as string;
    const stale = await rawRequest(d.socket, 'PUT', '/1.0/projects/p1', JSON.stringify({ config: {} }), { 'If-Match': '"nope"' });
    t.equal(stale.status, 412);
    const patched = await rawRequest(d.socket, 'PATCH', '/1.0/projects/p1', JSON.stringify({ config: { 'user.team': 'a' } }), { 'If-Match': etag });
    t.equal(patched.status, 200);
    t.equal((meta((await q(d, 'GET', '/1.0/projects/p1')).body).config as Body)['user.team'], 'a');
    // Empty (only its default profile): features may change, and the default profile follows features.profiles.
    t.equal((await q(d, 'PATCH', '/1.0/projects/p1', { config: { 'features.profiles': 'false' } })).status, 200);
    t.equal(meta((await q(d, 'GET', '/1.0/profiles/default?project=p1')).body).project, 'default');
    t.equal((await q(d, 'PATCH', '/1.0/projects/p1', { config: { 'features.profiles': 'true' } })).status, 200);
    t.equal(meta((await q(d, 'GET', '/1.0/profiles/default?project=p1')).body).project, 'p1');
    // Not empty: a profile of its own.
    t.equal((await q(d, 'POST', '/1.0/profiles?project=p1', { name: 'extra' })).status, 200);
    const off = await q(d, 'PATCH', '/1.0/projects/p1', { config: { 'features.images': 'false' } });
    t.equal(off.status, 400);
    t.equal(off.body.error, 'Project feature "features.images" cannot be disabled on non-empty projects');
    const put = await q(d, 'PUT', '/1.0/projects/p1', { description: 'new', config: { 'features.images': 'true', 'features.profiles': 'true', 'features.storage.volumes': 'true', 'features.storage.buckets': 'true' } });
    t.equal(put.status, 200);
    const after = meta((await q(d, 'GET', '/1.0/projects/p1')).body);
    t.equal(after.description, 'new');
    t.equal((after.config as Body)['user.team'], undefined, 'PUT replaces the config');
  });

  t.test('rename and delete: only when empty', async (t) => {
    const busyRename = await q(d, 'POST', '/1.0/projects/p1', { name: 'p9' });
    t.equal(busyRename.status, 400);
    t.equal(busyRename.body.error, 'Only empty projects can be renamed');
    const busyDelete = await q(d, 'DELETE', '/1.0/projects/p1');
    t.equal(busyDelete.status, 400);
    t.match(busyDelete.body.error, /Only empty projects can be removed.*\/1\.0\/profiles\/extra\?project=p1/);
    t.equal((await q(d, 'GET', '/1.0/profiles/extra?project=p1')).status, 200, 'refused delete removed nothing');
    t.equal((await q(d, 'DELETE', '/1.0/profiles/extra?project=p1')).status, 200);
    const taken = await q(d, 'POST', '/1.0/projects/p1', { name: 'p2' });
    t.equal(taken.status, 409);
    const ren = await q(d, 'POST', '/1.0/projects/p1', { name: 'p9' });
    t.equal(ren.status, 202);
    t.equal((await waitOp(d, ren.body)).status, 'Success');
    t.equal((await q(d, 'GET', '/1.0/projects/p1')).status, 404);
    t.equal(meta((await q(d, 'GET', '/1.0/profiles/default?project=p9')).body).project, 'p9');
    t.equal((await q(d, 'DELETE', '/1.0/projects/p9')).status, 200);
    t.equal((await q(d, 'GET', '/1.0/projects/p9')).status, 404);
    t.equal((await q(d, 'DELETE', '/1.0/projects/p2')).status, 200);
    t.same((await q(d, 'GET', '/1.0/projects')).body.metadata, ['/1.0/projects/default']);
  });
});
