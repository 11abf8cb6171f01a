/**
 * `incus project ...` and the project-awareness of the CLI against a real
 * daemon: create/list/show/get/set/unset/edit/rename/delete; `project
 * switch` stored in the local remote's entry of config.yml and used by
 * later commands (and marked "(current)" by `project list`); `--project`
 * on launch and list; `list --all-projects` with the PROJECT column showing
 * the same name `c1` in two projects. The client configuration lives in a
 * temporary $INCUS_CONF, never the user's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { cliRemote, withDaemon, type CliResult, type TestDaemon } from './lib/daemon';

const confDir = mkdtempSync(join(tmpdir(), 'incus-conf-'));
// d.cli() passes our environment on: every CLI run below uses this config dir.
process.env.INCUS_CONF = confDir;
t.teardown(() => rmSync(confDir, { recursive: true, force: true }));

/** Runs the CLI and fails the test (showing stderr) unless it exits 0. */
async function ok(t: Test, d: TestDaemon, args: string[], input?: string): Promise<string> {
  const r: CliResult = await d.cli(args, input);
  t.equal(r.code, 0, `incus ${args.join(' ')}${r.code !== 0 ? `: ${r.stderr}` : ''}`);
  return r.stdout;
}

/** The column names of a table (its first `|` line). */
const headerOf = (table: string): string[] =>
  (table.split('\n').find((l) => l.startsWith('|')) ?? '').split('|').map((c) => c.trim()).filter(Boolean);

// The CLI's default remote: `local`, or the HTTPS one when run from test/integration/https-mode/.
const localProject = (): string | undefined =>
  new RegExp(`^ {2}${cliRemote()}:\\n(?: {4}.*\\n)*? {4}project: (\\S+)$`, 'm').exec(readFileSync(join(confDir, 'config.yml'), 'utf8'))?.[1];

t.test('project CLI', async (t) => {
  const d = await withDaemon(t);

  t.test('create, list, show, get/set/unset, edit, rename, delete', async (t) => {
    t.equal(await ok(t, d, ['project', 'create', 'p1', '--config', 'limits.instances=5', '-c', 'user.team=a', '--description', 'first']), 'Project p1 created\n');
    t.equal(
      await ok(t, d, ['project', 'list', '-f', 'csv', '-c', 'nipd']),
      'default (current),YES,YES,Default Incus project\np1,YES,YES,first\n',
      'Incus default features, current project marked',
    );
    const info = await ok(t, d, ['project', 'info', 'p1', '-f', 'csv']);
    t.match(info, /^INSTANCES,5,0$/m, 'a limit and its usage');
    t.match(info, /^CPU,UNLIMITED,0$/m, '-1 is UNLIMITED');
    t.match(info, /^MEMORY,UNLIMITED,0B$/m, 'bytes in IEC units');
    t.same(headerOf(await ok(t, d, ['project', 'info', 'p1'])), ['RESOURCE', 'LIMIT', 'USAGE']);
    const shown = await ok(t, d, ['project', 'show', 'p1']);
    t.match(shown, /^config:\n(?: {2}.*\n)*? {2}limits\.instances: "5"\n/);
    t.match(shown, /\ndescription: first\nname: p1\nused_by:\n- \/1\.0\/profiles\/default\?project=p1\n$/);

    await ok(t, d, ['project', 'set', 'p1', 'user.color=blue', 'limits.containers=3']);
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'user.color']), 'blue\n');
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'limits.containers']), '3\n');
    await ok(t, d, ['project', 'set', 'p1', '--property', 'description=second']);
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'description', '-p']), 'second\n');
    await ok(t, d, ['project', 'unset', 'p1', 'user.color']);
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'user.color']), '\n');
    const badProp = await d.cli(['project', 'get', '-p', 'p1', 'bogus']);
    t.equal(badProp.code, 1);
    t.match(badProp.stderr, 'Error: The property "bogus" does not exist on the project "p1"');
    const badValue = await d.cli(['project', 'set', 'p1', 'limits.memory=lots']);
    t.equal(badValue.code, 1);
    t.match(badValue.stderr, 'Invalid project configuration key "limits.memory" value');

    const edited = 'config:\n  features.images: "true"\n  features.profiles: "true"\n  features.storage.volumes: "true"\n  features.storage.buckets: "true"\n  user.edited: "yes"\ndescription: from stdin\n';
    await ok(t, d, ['project', 'edit', 'p1'], edited);
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'user.edited']), 'yes\n');
    t.equal(await ok(t, d, ['project', 'get', 'p1', 'limits.instances']), '\n', 'edit replaces the whole config');
    t.equal(await ok(t, d, ['project', 'get', 'p1', '-p', 'description']), 'from stdin\n');

    t.equal(await ok(t, d, ['project', 'rename', 'p1', 'p9']), 'Project p1 renamed to p9\n');
    t.equal(await ok(t, d, ['project', 'ls', '-f', 'csv', '-c', 'n', 'p']), 'p9\n', 'a bare filter is a name prefix');
    t.equal(await ok(t, d, ['project', 'rm', 'p9']), 'Project p9 deleted\n');
    const gone = await d.cli(['project', 'show', 'p9']);
    t.equal(gone.code, 1);
    t.equal(gone.stderr, 'Error: Project not found\n');
  });

  t.test('switch, --project and --all-projects', async (t) => {
    // Images and profiles from the default project, so busybox and the root disk are at hand.
    await ok(t, d, ['project', 'create', 'p2', '-c', 'features.images=false', '-c', 'features.profiles=false']);
    t.equal(await ok(t, d, ['--project', 'p2', 'launch', 'busybox', 'c1']), 'Launching c1\n');
    t.equal((await d.client.useProject('p2').getInstance('c1')).project, 'p2', '--project on launch');
    t.equal(await ok(t, d, ['list', '--project', 'p2', '-c', 'ns', '-f', 'csv']), 'c1,RUNNING\n', '--project on list');
    t.equal(await ok(t, d, ['list', '-c', 'n', '-f', 'csv']), '', 'the default project is still empty');

    t.equal(await ok(t, d, ['project', 'switch', 'p2']), '');
    t.equal(localProject(), 'p2', 'stored in the local remote of config.yml');
    t.equal(await ok(t, d, ['project', 'list', '-f', 'csv', '-c', 'n']), 'default\np2 (current)\n');
    t.equal(await ok(t, d, ['list', '-c', 'n', '-f', 'csv']), 'c1\n', 'later commands use the stored project');
    await ok(t, d, ['create', 'busybox', 'c2']);
    t.equal((await d.client.useProject('p2').getInstance('c2')).project, 'p2');
    t.equal(await ok(t, d, ['list', '--project', 'default', '-c', 'n', '-f', 'csv']), '', '--project overrides the stored one');
    t.equal(await ok(t, d, ['project', 'get-current']), 'p2\n');
    const missing = await d.cli(['project', 'switch', 'nope']);
    t.equal(missing.code, 1);
    t.equal(missing.stderr, 'Error: Project not found\n');
    t.equal(localProject(), 'p2', 'a failed switch changes nothing');

    await ok(t, d, ['project', 'switch', 'default']);
    await ok(t, d, ['create', 'busybox', 'c1']);
    t.equal((await d.client.getInstance('c1')).project, 'default');
    t.equal(await ok(t, d, ['list', '--all-projects', '-c', 'en', '-f', 'csv']), 'default,c1\np2,c1\np2,c2\n');
    const table = await ok(t, d, ['list', '--all-projects']);
    t.same(headerOf(table), ['PROJECT', 'NAME', 'STATE', 'IPV4', 'IPV6', 'TYPE', 'SNAPSHOTS'], 'PROJECT first in the default columns');
    t.match(table, /\| p2 +\| c1 +\| RUNNING /);
    t.match(table, /\| default +\| c1 +\| STOPPED /);
    // The other list commands: ?all-projects=true and PROJECT first.
    t.equal(await ok(t, d, ['image', 'list', '--all-projects', '-c', 'el', '-f', 'csv']), 'default,busybox\n');
    t.same(headerOf(await ok(t, d, ['image', 'list', '--all-projects'])).slice(0, 3), ['PROJECT', 'ALIAS', 'FINGERPRINT']);
    t.match(await ok(t, d, ['profile', 'list', '--all-projects', '-f', 'csv']), /^default,default,/m);
    const vols = await ok(t, d, ['storage', 'volume', 'list', 'default', '--all-projects', '-f', 'csv']);
    t.match(vols, /^default,container,c1,/m);
    t.match(vols, /^p2,container,c1,/m);
    t.notMatch(await ok(t, d, ['storage', 'volume', 'list', 'default', '-f', 'csv']), /^p2,|,c2,/m, 'one project without the flag');
    t.same(headerOf(await ok(t, d, ['network', 'list', '--all-projects'])).slice(0, 3), ['PROJECT', 'NAME', 'TYPE']);

    const both = await d.cli(['list', '--all-projects', '--project', 'p2']);
    t.equal(both.code, 1);
    t.equal(both.stderr, "Error: Can't specify --project with --all-projects\n");

    // Deleting the current project forgets it.
    await ok(t, d, ['project', 'switch', 'p2']);
    await ok(t, d, ['delete', '-f', 'c1', 'c2']);
    await ok(t, d, ['--project', 'default', 'delete', 'c1']);
    t.equal(await ok(t, d, ['project', 'delete', 'p2']), 'Project p2 deleted\n');
    t.equal(localProject(), undefined, 'deleting the current project clears it');
    t.equal(await ok(t, d, ['project', 'list', '-f', 'csv', '-c', 'n']), 'default (current)\n');
  });
});
