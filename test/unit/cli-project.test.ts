/** `incus project` argument parsing and output, and which project a CLI run uses. */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Project } from '../../lib/api/project';
import { configFlags, projectText } from '../../lib/cli/commands/project';
import { matchProject, parseProjectColumns, projectInfoText, projectListText, projectServerFilters } from '../../lib/cli/commands/project-list';
import { CliContext, type GlobalFlags } from '../../lib/cli/context';

const p = (name: string, extra: Partial<Project> = {}): Project => ({
  name,
  description: '',
  config: {},
  used_by: [],
  ...extra,
});

t.test('columns: Incus letters, YES/NO for features, messages for bad specs', async (t) => {
  const cols = parseProjectColumns('nipvbwzdu');
  t.same(
    cols.map(([n]) => n),
    ['NAME', 'IMAGES', 'PROFILES', 'STORAGE VOLUMES', 'STORAGE BUCKETS', 'NETWORKS', 'NETWORK ZONES', 'DESCRIPTION', 'USED BY'],
  );
  const proj = p('p1', {
    description: 'mine',
    config: { 'features.images': 'true', 'features.profiles': 'false', 'features.storage.volumes': 'on' },
    used_by: ['/1.0/profiles/default?project=p1', '/1.0/instances/c1?project=p1'],
  });
  t.same(
    cols.map(([, data]) => data(proj)),
    ['p1', 'YES', 'NO', 'YES', 'NO', 'NO', 'NO', 'mine', '2'],
  );
  t.throws(() => parseProjectColumns('nq'), { message: "Unknown column shorthand char 'q' in 'nq'" });
  t.throws(() => parseProjectColumns(',n'), { message: "Empty column entry (redundant, leading or trailing command) in ',n'" });
});

t.test('filters become server expressions as Incus builds them', async (t) => {
  t.same(projectServerFilters(['web']), ['name=(^web$|^web.*)']);
  t.same(projectServerFilters(['^we']), ['name=(^we|^^we.*)'], 'anchors are kept as given');
  t.same(projectServerFilters(['description=x', 'name=p1']), ['description=x', 'name=p1']);
  t.same(projectServerFilters(['features.images=true', 'config.limits.instances=5']), [
    'config.features.images=true',
    'config.limits.instances=5',
  ]);
});

t.test('filters match as the Incus server does: case-insensitive patterns, anchored unless ^ or $', async (t) => {
  const web = p('web-Prod', { description: 'Front end', config: { 'features.images': 'true', 'user.team': 'blue' } });
  const match = (...f: string[]): boolean => matchProject(web, projectServerFilters(f));
  t.ok(match());
  t.ok(match('web'), 'a bare word is a name prefix');
  t.ok(match('web-prod'), 'case-insensitive');
  t.notOk(match('prod'));
  t.ok(match('description=front.*'));
  t.notOk(match('description=front'), 'anchored: the whole value');
  t.ok(match('description=^Front'), 'an explicit anchor leaves the rest open');
  t.ok(match('features.images=true', 'user.team=blue'), 'other keys are config keys; all must match');
  t.notOk(match('user.team=red'));
  t.notOk(match('limits.cpu=.*'), 'an unset key matches nothing');
  t.ok(matchProject(p('a(b'), projectServerFilters(['name=a(b'])), 'an invalid pattern compares literally');
});

t.test('list: the current project is marked in tables, not in json', async (t) => {
  const projects = [p('zeta'), p('default', { config: { 'features.images': 'true' } }), p('p10'), p('p9')];
  const table = projectListText(projects, 'p9', { columns: 'ni', format: 'csv' });
  t.equal(table, 'default,YES\np9 (current),NO\np10,NO\nzeta,NO\n', 'natural sort, current marked');
  const json = JSON.parse(projectListText(projects, 'p9', { columns: 'n', format: 'json' })) as Project[];
  t.same(
    json.map((x) => x.name),
    ['zeta', 'default', 'p10', 'p9'],
  );
  t.same(Object.keys(json[0]!), ['config', 'description', 'name', 'used_by'], "Go's field order");
  t.throws(() => projectListText(projects, 'default', { columns: 'n', format: 'xml' }), /Invalid value "xml" for flag "--format"/);
});

t.test('info: UNLIMITED for -1, bytes in IEC units for disk and memory, sub-keys in parentheses', async (t) => {
  const text = projectInfoText(
    {
      resources: {
        containers: { Limit: 5, Usage: 1 },
        cpu: { Limit: -1, Usage: 2 },
        disk: { Limit: 10 * 1024 ** 3, Usage: 1536 * 1024 },
        memory: { Limit: -1, Usage: 0 },
        'disk.pool1': { Limit: -1, Usage: 0 },
      },
    },
    'csv',
  );
  t.equal(text, ['CONTAINERS,5,1', 'CPU,UNLIMITED,2', 'DISK,10.00GiB,1.50MiB', 'DISK (POOL1),UNLIMITED,0B', 'MEMORY,UNLIMITED,0B', ''].join('\n'));
  t.match(projectInfoText({ resources: { instances: { Limit: -1, Usage: 3 } } }, 'table'), /RESOURCE\s*\|\s*LIMIT\s*\|\s*USAGE/);
});

t.test('create --config pairs; show in Go order', async (t) => {
  t.same(configFlags(['limits.instances=5', 'features.images=false', 'user.x=a=b']), {
    'limits.instances': '5',
    'features.images': 'false',
    'user.x': 'a=b',
  });
  t.throws(() => configFlags(['nokey']), { message: 'Bad key=value pair: "nokey"' });
  t.equal(
    projectText(p('p1', { description: 'd', config: { 'features.images': 'true' }, used_by: ['/1.0/profiles/default?project=p1'] })),
    'config:\n  features.images: "true"\ndescription: d\nname: p1\nused_by:\n- /1.0/profiles/default?project=p1\n',
  );
});

t.test('project of a run: --project, then $INCUS_PROJECT, then the one switched to for the remote', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sink = { write: () => true };
  const ctxOf = (env: NodeJS.ProcessEnv, globals: GlobalFlags = {}): CliContext =>
    new CliContext({ out: sink, err: sink, env: { INCUS_CONF: dir, INCUS_GLOBAL_CONF: join(dir, 'none'), ...env } }, () => globals);

  t.equal(ctxOf({}).remoteProject('local'), undefined, 'no file: the server default');
  t.equal(ctxOf({}).projectName, 'default');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.yml'), 'default-remote: local\nremotes:\n  local:\n    addr: unix://\n    project: p1\n    protocol: incus\n');
  t.equal(ctxOf({}).remoteProject('local'), 'p1', 'stored per remote');
  t.equal(ctxOf({}).projectName, 'p1');
  t.equal(ctxOf({}).client().project, 'p1', 'the client uses it');
  t.equal(ctxOf({ INCUS_PROJECT: 'p2' }).remoteProject('local'), 'p2', '$INCUS_PROJECT overrides');
  t.equal(ctxOf({ INCUS_PROJECT: 'p2' }, { project: 'p3' }).client().project, 'p3', '--project overrides both');
  writeFileSync(join(dir, 'config.yml'), 'remotes:\n  local:\n    addr: unix://\n    project: default\n');
  t.equal(ctxOf({}).remoteProject('local'), undefined, '"default" is sent as no project');
});
