/**
 * Projects scope every subsystem (issue 10 acceptance): two projects each
 * holding a running `c1`; list, exec, file push, snapshot, copy, rename and
 * delete act on the right one; `--all-projects` lists both; on-disk
 * volumes are `<project>_<name>`; features.profiles=false uses default's
 * profiles while true starts with its own; features.images=false launches
 * default's image by alias; events with ?project=p see only p's lifecycle
 * events (sources carrying ?project=p); deleting a non-empty project is
 * refused and removes nothing, deleting an empty one leaves no row,
 * directory or network behind. Custom volumes follow
 * features.storage.volumes; `admin recover` finds a project's instance
 * from its `<project>_<name>` volume.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event } from '../../lib/api/event';
import { rawRequest } from './lib/http';
import { withDaemon } from './lib/daemon';
import { forgetInstance } from './lib/forget-instance';

type Body = Record<string, unknown>;

t.test('instances, volumes, profiles, images and events scoped by project', async (t) => {
  const d = await withDaemon(t);
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> => {
    const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, body: r.body };
  };
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pool = join(d.dir, 'storage-pools', 'default');
  const tmp = mkdtempSync(join(tmpdir(), 'projects-test-'));
  t.teardown(async () => {
    for (const p of ['pa', 'pb']) {
      for (const name of ['c1', 'c2', 'c3']) await d.cli(['--project', p, 'delete', '-f', name]);
      await d.cli(['project', 'delete', p]);
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  // pa: default's profiles and images; pb: its own profiles, default's images.
  t.equal((await api('POST', '/1.0/projects', { name: 'pa', config: { 'features.images': 'false', 'features.profiles': 'false' } })).status, 200);
  t.equal((await api('POST', '/1.0/projects', { name: 'pb', config: { 'features.images': 'false', 'features.profiles': 'true' } })).status, 200);
  await ok(['profile', 'set', 'default', 'user.where=default-profile']);
  await ok(['--project', 'pb', 'profile', 'set', 'default', 'user.where=pb-profile']);
  await ok(['--project', 'pb', 'profile', 'device', 'add', 'default', 'root', 'disk', 'path=/', 'pool=default']);
  const networksBefore = (await api('GET', '/1.0/networks')).body.metadata;

  const events: Record<string, Event[]> = { pa: [], pb: [] };
  for (const p of ['pa', 'pb'] as const) {
    const stream = await d.client.events(['lifecycle'], { project: p });
    t.teardown(() => stream.close());
    stream.on((ev) => events[p].push(ev));
  }

  // Launch by alias: the image is default's (features.images=false).
  await ok(['--project', 'pa', 'launch', 'busybox', 'c1']);
  await ok(['--project', 'pb', 'launch', 'busybox', 'c1']);

  t.test('profiles: features.profiles=false uses default\'s, true its own', async (t) => {
    const a = (await api('GET', '/1.0/instances/c1?project=pa')).body.metadata as Body;
    const b = (await api('GET', '/1.0/instances/c1?project=pb')).body.metadata as Body;
    t.equal(a.project, 'pa');
    t.equal((a.expanded_config as Record<string, string>)['user.where'], 'default-profile');
    t.equal(b.project, 'pb');
    t.equal((b.expanded_config as Record<string, string>)['user.where'], 'pb-profile');
    t.same((await api('GET', '/1.0/profiles/default?project=pa')).body.metadata, (await api('GET', '/1.0/profiles/default')).body.metadata);
    t.equal(((await api('GET', '/1.0/profiles/default?project=pb')).body.metadata as Body).project, 'pb');
  });

  t.test('list per project and --all-projects', async (t) => {
    const inPa = JSON.parse(await ok(['--project', 'pa', 'list', '-f', 'json'])) as Body[];
    t.same(inPa.map((i) => [i.name, i.project]), [['c1', 'pa']]);
    t.same((await api('GET', '/1.0/instances')).body.metadata, [], 'default holds no instance');
    t.same((await api('GET', '/1.0/instances?project=pb')).body.metadata, ['/1.0/instances/c1?project=pb']);
    const all = (await api('GET', '/1.0/instances?all-projects=true&recursion=1')).body.metadata as Body[];
    t.same(all.map((i) => `${i.project as string}/${i.name as string}`).sort(), ['pa/c1', 'pb/c1']);
    const csv = await ok(['list', '--all-projects', '-f', 'csv', '-c', 'en']);
    t.same(csv.trim().split('\n').sort(), ['pa,c1', 'pb,c1']);
  });

  t.test('file push and exec reach the right container', async (t) => {
    for (const p of ['pa', 'pb']) {
      const f = join(tmp, p);
      writeFileSync(f, `hello from ${p}\n`);
      await ok(['--project', p, 'file', 'push', f, 'c1/root/who']);
    }
    t.equal(await ok(['--project', 'pa', 'exec', 'c1', '--', 'cat', '/root/who']), 'hello from pa\n');
    t.equal(await ok(['--project', 'pb', 'exec', 'c1', '--', 'cat', '/root/who']), 'hello from pb\n');
    t.equal(await ok(['--project', 'pb', 'exec', 'c1', '--', 'hostname']), 'c1\n');
  });

  t.test('separate on-disk volumes <project>_<name>', async (t) => {
    t.notOk(existsSync(join(pool, 'containers', 'c1')), 'no unprefixed c1 volume');
    t.equal(readFileSync(join(pool, 'containers', 'pa_c1', 'rootfs', 'root', 'who'), 'utf8'), 'hello from pa\n');
    t.equal(readFileSync(join(pool, 'containers', 'pb_c1', 'rootfs', 'root', 'who'), 'utf8'), 'hello from pb\n');
    const vols = (await api('GET', '/1.0/storage-pools/default/volumes?project=pa')).body.metadata as string[];
    t.same(vols, ['/1.0/storage-pools/default/volumes/container/c1?project=pa']);
  });

  t.test('custom volumes: features.storage.volumes', async (t) => {
    // pa keeps its own volumes: `pa_vol` on disk; pc has no volumes feature and uses default's.
    t.equal((await api('POST', '/1.0/projects', { name: 'pc', config: { 'features.storage.volumes': 'false', 'features.images': 'false' } })).status, 200);
    t.teardown(() => api('DELETE', '/1.0/projects/pc'));
    t.equal((await api('POST', '/1.0/storage-pools/default/volumes/custom?project=pa', { name: 'vol' })).status, 200);
    t.equal((await api('POST', '/1.0/storage-pools/default/volumes/custom?project=pc', { name: 'vol' })).status, 200);
    t.ok(existsSync(join(pool, 'custom', 'pa_vol')), 'pa\'s volume prefixed');
    t.ok(existsSync(join(pool, 'custom', 'default_vol')), 'pc\'s volume is default\'s (default_vol)');
    const inDefault = (await api('GET', '/1.0/storage-pools/default/volumes/custom/vol')).body.metadata as Body;
    t.equal(inDefault.project, 'default');
    const pa = (await api('GET', '/1.0/storage-pools/default/volumes/custom/vol?project=pa')).body.metadata as Body;
    t.equal(pa.project, 'pa');
    // A disk device naming `vol` in pa binds pa's volume, not default's.
    writeFileSync(join(pool, 'custom', 'pa_vol', 'marker'), 'pa volume\n');
    await ok(['--project', 'pa', 'config', 'device', 'add', 'c1', 'v', 'disk', 'pool=default', 'source=vol', 'path=/mnt/v']);
    t.equal(await ok(['--project', 'pa', 'exec', 'c1', '--', 'cat', '/mnt/v/marker']), 'pa volume\n');
    const used = (await api('GET', '/1.0/storage-pools/default/volumes/custom/vol?project=pa')).body.metadata as Body;
    t.same(used.used_by, ['/1.0/instances/c1?project=pa']);
    t.same(((await api('GET', '/1.0/storage-pools/default/volumes/custom/vol')).body.metadata as Body).used_by, [], 'default\'s vol unused');
    await ok(['--project', 'pa', 'config', 'device', 'remove', 'c1', 'v']);
    for (const p of ['pa', 'pc']) t.equal((await api('DELETE', `/1.0/storage-pools/default/volumes/custom/vol?project=${p}`)).status, 200);
    t.notOk(existsSync(join(pool, 'custom', 'pa_vol')) || existsSync(join(pool, 'custom', 'default_vol')), 'both gone');
  });

  t.test('snapshots per project', async (t) => {
    await ok(['--project', 'pa', 'snapshot', 'create', 'c1', 'only-pa']);
    await ok(['--project', 'pb', 'snapshot', 'create', 'c1', 'only-pb']);
    const names = async (p: string) => (JSON.parse(await ok(['--project', p, 'snapshot', 'list', 'c1', '-f', 'json'])) as Body[]).map((s) => s.name);
    t.same(await names('pa'), ['only-pa']);
    t.same(await names('pb'), ['only-pb']);
    t.ok(existsSync(join(pool, 'containers-snapshots', 'pa_c1', 'only-pa', 'rootfs', 'root', 'who')), 'pa snapshot on disk');
    t.ok(existsSync(join(pool, 'containers-snapshots', 'pb_c1', 'only-pb')), 'pb snapshot on disk');
  });

  t.test('copy and rename within a project', async (t) => {
    await ok(['--project', 'pa', 'copy', 'c1', 'c2']);
    t.same((await api('GET', '/1.0/instances?project=pa')).body.metadata, ['/1.0/instances/c1?project=pa', '/1.0/instances/c2?project=pa']);
    t.equal((await api('GET', '/1.0/instances/c2?project=pb')).status, 404, 'the copy is not in pb');
    t.equal(readFileSync(join(pool, 'containers', 'pa_c2', 'rootfs', 'root', 'who'), 'utf8'), 'hello from pa\n', 'copied from pa\'s c1');
    t.ok(existsSync(join(pool, 'containers-snapshots', 'pa_c2', 'only-pa')), 'snapshot copied along');
    // Across projects (what `incus copy --target-project` sends): source.project names the source's.
    const cross = await api('POST', '/1.0/instances?project=pb', { name: 'c2', source: { type: 'copy', source: 'c1', project: 'pa', instance_only: true } });
    t.equal(cross.status, 202, JSON.stringify(cross.body));
    const op = (await api('GET', `/1.0/operations/${(cross.body.metadata as Body).id as string}/wait?timeout=60`)).body.metadata as Body;
    t.equal(op.status, 'Success', String(op.err));
    t.equal(readFileSync(join(pool, 'containers', 'pb_c2', 'rootfs', 'root', 'who'), 'utf8'), 'hello from pa\n', 'pb\'s c2 copied from pa\'s c1');
    t.equal(((await api('GET', '/1.0/instances/c2?project=pb')).body.metadata as Body).project, 'pb');
    await ok(['--project', 'pb', 'delete', 'c2']);
    t.notOk(existsSync(join(pool, 'containers', 'pb_c2')), 'pb\'s copy deleted');
    t.ok(existsSync(join(pool, 'containers', 'pa_c2')), 'pa\'s c2 kept');
    await ok(['--project', 'pa', 'rename', 'c2', 'c3']);
    t.ok(existsSync(join(pool, 'containers', 'pa_c3')) && !existsSync(join(pool, 'containers', 'pa_c2')), 'renamed on disk');
  });

  t.test('delete acts on the right instance; a non-empty project stays', async (t) => {
    await ok(['--project', 'pb', 'delete', '-f', 'c1']);
    t.notOk(existsSync(join(pool, 'containers', 'pb_c1')), 'pb volume gone');
    t.notOk(existsSync(join(pool, 'containers-snapshots', 'pb_c1')), 'pb snapshots gone');
    t.ok(existsSync(join(pool, 'containers', 'pa_c1', 'rootfs')), 'pa volume kept');
    t.equal(await ok(['--project', 'pa', 'exec', 'c1', '--', 'cat', '/root/who']), 'hello from pa\n', 'pa c1 still running');

    const refused = await api('DELETE', '/1.0/projects/pa');
    t.equal(refused.status, 400);
    t.match(refused.body.error, /Only empty projects can be removed/);
    t.equal((await api('GET', '/1.0/instances/c1?project=pa')).status, 200, 'nothing removed');
    t.ok(existsSync(join(pool, 'containers', 'pa_c1', 'rootfs')), 'volume kept');
  });

  t.test('events with ?project=p see only p', async (t) => {
    await new Promise((r) => setTimeout(r, 300));
    for (const p of ['pa', 'pb']) {
      const evs = events[p];
      t.ok(evs.length > 0, `${p} saw events`);
      t.same([...new Set(evs.map((e) => e.project))], [p], `${p} saw only its own`);
      const md = evs.map((e) => e.metadata as { action: string; source: string });
      t.ok(md.some((m) => m.action === 'instance-created' && m.source === `/1.0/instances/c1?project=${p}`), `${p}: instance-created with its project in the source`);
      for (const m of md) t.match(m.source, `?project=${p}`, `${m.action} source ${m.source}`);
    }
    t.ok(events.pa.some((e) => (e.metadata as { action: string }).action === 'instance-renamed'));
    t.notOk(events.pb.some((e) => (e.metadata as { action: string }).action === 'instance-renamed'));
  });

  t.test('deleting empty projects leaves no row, directory or network', async (t) => {
    await ok(['--project', 'pa', 'delete', '-f', 'c1']);
    await ok(['--project', 'pa', 'delete', '-f', 'c3']);
    for (const p of ['pa', 'pb']) {
      t.equal((await api('DELETE', `/1.0/projects/${p}`)).status, 200, `delete ${p}`);
      t.equal((await api('GET', `/1.0/projects/${p}`)).status, 404, `${p} row gone`);
    }
    t.same((await api('GET', '/1.0/projects')).body.metadata, ['/1.0/projects/default']);
    const left = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []).filter((n) => /^p[abc]_/.test(n));
    for (const dir of [
      join(pool, 'containers'),
      join(pool, 'containers-snapshots'),
      join(pool, 'custom'),
      join(d.dir, 'containers'),
      join(d.dir, 'logs'),
      join(d.dir, 'devices'),
      join(d.dir, 'security', 'seccomp'),
    ]) {
      t.same(left(dir), [], `nothing left in ${dir}`);
    }
    t.same((await api('GET', '/1.0/networks')).body.metadata, networksBefore, 'networks as before');
    t.same((await api('GET', '/1.0/storage-pools/default/volumes?all-projects=true')).body.metadata, [
      ...((await api('GET', '/1.0/storage-pools/default/volumes')).body.metadata as string[]),
    ], 'no volume of another project');
  });
});

t.test('admin recover finds a project\'s instance by its <project>_<name> volume', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await d.cli(args, input);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  t.teardown(async () => {
    await d.cli(['--project', 'pr', 'delete', '-f', 'r1']);
    await d.cli(['project', 'delete', 'pr']);
  });
  await ok(['project', 'create', 'pr', '-c', 'features.images=false', '-c', 'features.profiles=false']);
  await ok(['--project', 'pr', 'init', 'busybox', 'r1', '-c', 'user.mark=pr']);
  await ok(['--project', 'pr', 'snapshot', 'create', 'r1', 's0']);
  const yaml = join(d.dir, 'storage-pools', 'default', 'containers', 'pr_r1', 'backup.yaml');
  for (let i = 0; i < 50 && !(existsSync(yaml) && readFileSync(yaml, 'utf8').includes('name: s0')); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(readFileSync(yaml, 'utf8'), /project: pr/, 'backup.yaml kept current for a project instance');

  await forgetInstance(d, 'r1');
  t.same(await d.client.useProject('pr').getInstances(0), [], 'gone from the database');

  // A volume of a project the database lacks is a dependency error, and blocks the import.
  const stray = join(d.dir, 'storage-pools', 'default', 'containers', 'gone_x');
  mkdirSync(join(stray, 'rootfs'), { recursive: true });
  const v = (await rawRequest(d.socket, 'POST', '/internal/recover/validate', '{}')).body.metadata as Body;
  t.same(v.dependency_errors, ['Project "gone"']);
  t.same((v.unknown_volumes as Body[]).map((x) => `${x.project as string}/${x.name as string}`).sort(), ['gone/x', 'pr/r1']);
  // As Incus: the import changes nothing while something is missing, and answers as validate does.
  const blocked = await rawRequest(d.socket, 'POST', '/internal/recover/import', '{}');
  t.equal(blocked.status, 200);
  t.same((blocked.body.metadata as Body).dependency_errors, ['Project "gone"']);
  t.same(await d.client.useProject('pr').getInstances(0), [], 'nothing imported meanwhile');
  rmSync(stray, { recursive: true });

  t.match(await ok(['admin', 'recover'], 'no\nyes\nyes\n'), /Container "r1" on pool "default" in project "pr" \(includes 1 snapshots\)/);
  const r1 = await d.client.useProject('pr').getInstance('r1');
  t.equal(r1.project, 'pr');
  t.equal(r1.config['user.mark'], 'pr', 'config recovered');
  t.same((JSON.parse(await ok(['--project', 'pr', 'snapshot', 'list', 'r1', '-f', 'json'])) as Body[]).map((s) => s.name), ['s0']);
  t.same(await d.client.getInstances(0), [], 'nothing recovered into default');
});
