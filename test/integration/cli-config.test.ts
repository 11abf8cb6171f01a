/**
 * `incus profile ...`, `incus config ...` and `config device ...` against a
 * real daemon with real busybox containers. `config edit` runs our CLI on a
 * real pseudo-terminal (util-linux `script`) with EDITOR set to a shell
 * script that records each call.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { Test } from 'tap';
import type { Event } from '../../lib/api/event';
import { ApiError, createProfile, deleteProfile, patchProfile, putInstance, renameProfile } from '../../lib/client';
import { ROOT, withDaemon, type CliResult, type TestDaemon } from './lib/daemon';

const INCUS = path.join(ROOT, 'bin', 'incus');
const haveScript = spawnSync('script', ['--version']).status === 0;

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs our CLI with a pseudo-terminal as stdin/stdout (so `edit` opens the
 * editor), typing `keys` into it. Output comes back with `\r\n` line ends.
 */
function cliOnTty(d: TestDaemon, args: string[], env: Record<string, string>, keys = ''): Promise<CliResult> {
  const cmd = [process.execPath, INCUS, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const c = spawn('script', ['-qec', cmd, '/dev/null'], {
      env: { ...process.env, ...d.cliEnv, VISUAL: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stdout: stdout.replace(/\r\n/g, '\n'), stderr }));
    c.stdin.end(keys);
  });
}

/** An editor script in `dir` that counts its calls, keeps what it was shown, then runs `body` on "$1". */
function editorScript(dir: string, body: string): string {
  const file = path.join(dir, 'editor.sh');
  fs.writeFileSync(
    file,
    `#!/bin/sh\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/calls"\ncp "$1" "${dir}/seen.$n"\n${body}\n`,
    { mode: 0o755 },
  );
  fs.rmSync(path.join(dir, 'calls'), { force: true });
  return file;
}

const calls = (dir: string): number => Number(fs.readFileSync(path.join(dir, 'calls'), 'utf8'));

async function ok(t: Test, d: TestDaemon, args: string[], input?: string): Promise<CliResult> {
  const r = await d.cli(args, input);
  t.equal(r.code, 0, `incus ${args.join(' ')}${r.code !== 0 ? `: ${r.stderr}` : ''}`);
  return r;
}

t.test('profiles and instance config through the CLI', async (t) => {
  const d = await withDaemon(t);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-config-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  await t.test('profile create, set, add to a running instance, get, unset', async (t) => {
    t.equal((await ok(t, d, ['profile', 'create', 'p1'])).stdout, 'Profile p1 created\n');
    await ok(t, d, ['profile', 'set', 'p1', 'limits.memory=64MiB', 'user.note=hello']);
    t.equal((await ok(t, d, ['profile', 'get', 'p1', 'limits.memory'])).stdout, '64MiB\n');
    const bad = await d.cli(['profile', 'set', 'p1', 'limits.memory=lots']);
    t.equal(bad.code, 1, 'invalid value refused');
    t.match(bad.stderr, /^Error: .*limits\.memory/);
    t.equal((await ok(t, d, ['profile', 'get', 'p1', 'limits.memory'])).stdout, '64MiB\n', 'nothing changed');

    await ok(t, d, ['launch', 'busybox', 'c1']);
    t.equal((await ok(t, d, ['profile', 'add', 'c1', 'p1'])).stdout, 'Profile p1 added to c1\n');
    t.same((await d.client.getInstance('c1')).profiles, ['default', 'p1']);
    t.equal((await ok(t, d, ['config', 'get', 'c1', 'limits.memory', '--expanded'])).stdout, '64MiB\n');
    t.equal((await ok(t, d, ['config', 'get', 'c1', 'limits.memory'])).stdout, '\n', 'not in the local config');
    const shown = (await ok(t, d, ['profile', 'show', 'p1'])).stdout;
    t.equal(
      shown,
      'config:\n  limits.memory: 64MiB\n  user.note: hello\ndescription: ""\ndevices: {}\nname: p1\nused_by:\n- /1.0/instances/c1\nproject: default\n',
    );
    t.match((await ok(t, d, ['profile', 'list', '-f', 'csv'])).stdout, /^default,Default Incus profile,1\np1,,1\n$/);

    const info = (await ok(t, d, ['info', 'c1'])).stdout;
    t.match(info, /\nResources:\n  Processes: \d+\n/, 'info shows the process count');
    t.match(info, /  CPU usage:\n    CPU usage \(in seconds\): \d+\n/, 'CPU time in seconds');
    t.match(info, /  Memory usage:\n    Memory \(current\): [\d.]+[KMG]iB\n    Memory \(peak\): [\d.]+[KMG]iB\n/, 'and memory usage');

    await ok(t, d, ['profile', 'unset', 'p1', 'user.note']);
    t.equal((await ok(t, d, ['profile', 'get', 'p1', 'user.note'])).stdout, '\n');
    const del = await d.cli(['profile', 'delete', 'p1']);
    t.equal(del.code, 1, 'a profile in use cannot be deleted');
    t.match(del.stderr, /in use/);
    const delDefault = await d.cli(['profile', 'delete', 'default']);
    t.equal(delDefault.code, 1);
    t.match(delDefault.stderr, /default/);
    t.equal((await d.cli(['profile', 'rename', 'default', 'x'])).code, 1, 'default cannot be renamed');
  });

  await t.test('profile rename, remove, assign, delete', async (t) => {
    t.equal((await ok(t, d, ['profile', 'rename', 'p1', 'p2'])).stdout, 'Profile p1 renamed to p2\n');
    t.same((await d.client.getInstance('c1')).profiles, ['default', 'p2'], 'the instance follows the rename');
    t.equal((await ok(t, d, ['profile', 'remove', 'c1', 'p2'])).stdout, 'Profile p2 removed from c1\n');
    const again = await d.cli(['profile', 'remove', 'c1', 'p2']);
    t.equal(again.code, 1);
    t.equal(again.stderr, "Error: Profile p2 isn't currently applied to c1\n");
    t.equal((await ok(t, d, ['profile', 'assign', 'c1', 'default,p2'])).stdout, 'Profiles default,p2 applied to c1\n');
    t.same((await d.client.getInstance('c1')).profiles, ['default', 'p2']);
    await ok(t, d, ['profile', 'assign', 'c1', 'default']);
    t.same((await d.client.getInstance('c1')).profiles, ['default']);
    t.equal((await ok(t, d, ['profile', 'delete', 'p2'])).stdout, 'Profile p2 deleted\n');
    t.equal((await d.cli(['profile', 'show', 'p2'])).code, 1, 'gone');
  });

  await t.test('profile copy, create and edit from stdin, profile devices', async (t) => {
    await ok(t, d, ['profile', 'copy', 'default', 'd2']);
    t.same((await d.client.getProfile('d2')).devices, (await d.client.getProfile('default')).devices);
    await ok(t, d, ['profile', 'edit', 'd2'], 'description: via stdin\nconfig:\n  user.a: 1\ndevices: {}\n');
    const d2 = await d.client.getProfile('d2');
    t.same([d2.description, d2.config, d2.devices], ['via stdin', { 'user.a': '1' }, {}], 'stdin YAML replaced the profile');
    await ok(t, d, ['profile', 'create', 'p3', '--description', 'flag wins'], 'config:\n  limits.processes: 100\ndescription: from yaml\n');
    const p3 = await d.client.getProfile('p3');
    t.same([p3.description, p3.config], ['flag wins', { 'limits.processes': '100' }]);

    t.equal((await ok(t, d, ['profile', 'device', 'add', 'd2', 'data', 'disk', `source=${tmp}`, 'path=/mnt'])).stdout, 'Device data added to d2\n');
    t.equal((await d.cli(['profile', 'device', 'add', 'd2', 'data', 'disk', `source=${tmp}`, 'path=/x'])).stderr, 'Error: The device already exists\n');
    t.equal((await ok(t, d, ['profile', 'device', 'list', 'd2'])).stdout, 'data\n');
    t.equal((await ok(t, d, ['profile', 'device', 'get', 'd2', 'data', 'path'])).stdout, '/mnt\n');
    await ok(t, d, ['profile', 'device', 'set', 'd2', 'data', 'readonly=true']);
    t.equal((await ok(t, d, ['profile', 'device', 'show', 'd2'])).stdout, `data:\n  path: /mnt\n  readonly: "true"\n  source: ${tmp}\n  type: disk\n`);
    await ok(t, d, ['profile', 'device', 'unset', 'd2', 'data', 'readonly']);
    t.same((await d.client.getProfile('d2')).devices.data, { type: 'disk', source: tmp, path: '/mnt' });
    t.equal((await ok(t, d, ['profile', 'device', 'remove', 'd2', 'data'])).stdout, 'Device data removed from d2\n');
    t.equal((await d.cli(['profile', 'device', 'get', 'd2', 'data', 'path'])).stderr, "Error: Device doesn't exist\n");
    await ok(t, d, ['profile', 'delete', 'd2', 'p3']);
  });

  await t.test('config set/get/unset for an instance and the server', async (t) => {
    await ok(t, d, ['config', 'set', 'c1', 'user.a=1', 'user.b=x=y']);
    t.equal((await ok(t, d, ['config', 'get', 'c1', 'user.b'])).stdout, 'x=y\n');
    const legacy = await ok(t, d, ['config', 'set', 'c1', 'user.c', '3']);
    t.match(legacy.stderr, /the “<key> <value>” syntax is deprecated/);
    t.equal((await ok(t, d, ['config', 'get', 'c1', 'user.c'])).stdout, '3\n');
    const before = await d.client.getInstanceWithEtag('c1');
    const unknown = await d.cli(['config', 'set', 'c1', 'no.such.key=1']);
    t.equal(unknown.code, 1, 'unknown key refused');
    t.match(unknown.stderr, /^Error: .*no\.such\.key/, "the server's message names the key");
    const bad = await d.cli(['config', 'set', 'c1', 'limits.cpu.allowance=200%']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /limits\.cpu\.allowance/);
    t.equal((await d.client.getInstanceWithEtag('c1')).etag, before.etag, 'nothing changed');
    await ok(t, d, ['config', 'unset', 'c1', 'user.a', 'user.c']);
    t.notOk('user.a' in (await d.client.getInstance('c1')).config);
    t.equal((await d.cli(['config', 'unset', 'c1', 'user.a'])).stderr, "Error: Can't unset key 'user.a', it's not currently set\n");
    await ok(t, d, ['config', 'set', 'c1', 'description=described', '-p']);
    t.equal((await ok(t, d, ['config', 'get', 'c1', 'description', '-p'])).stdout, 'described\n');

    const show = (await ok(t, d, ['config', 'show', 'c1'])).stdout;
    t.match(show, /^architecture: .*\nconfig:\n/);
    t.match(show, /\ndevices: {}\nephemeral: false\nprofiles:\n- default\nstateful: false\ndescription: described\n$/);
    t.match((await ok(t, d, ['config', 'show', 'c1', '--expanded'])).stdout, /\ndevices:\n  root:\n    path: \/\n/);

    await ok(t, d, ['config', 'set', 'user.server=on']);
    t.equal((await ok(t, d, ['config', 'get', 'user.server'])).stdout, 'on\n');
    // Other server keys (core.https_address when run over HTTPS) may come first.
    t.match((await ok(t, d, ['config', 'show'])).stdout, /^config:\n(?: {2}\S.*\n)*? {2}user.server: "?on"?\n/);
    await ok(t, d, ['config', 'unset', 'user.server']);
    t.equal((await ok(t, d, ['config', 'get', 'user.server'])).stdout, '\n');
    t.equal((await d.cli(['config', 'show', '--expanded'])).stderr, 'Error: --expanded cannot be used with a server\n');
  });

  await t.test('the deprecated `config profile` spelling; user.* server key names', async (t) => {
    t.match((await ok(t, d, ['config', 'profile', 'list'])).stdout, /\bdefault\b/);
    t.equal((await ok(t, d, ['config', 'profile', 'get', 'default', 'description', '-p', '--verbose'])).code, 0, '--verbose is accepted');
    t.notMatch((await ok(t, d, ['config', '--help'])).stdout, /\bprofile\b/, 'hidden from help');
    const bad = await d.cli(['config', 'set', 'user.⍾=foo']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /Invalid key name/);
  });

  await t.test('config show|get|set|unset|edit on INSTANCE/SNAPSHOT', async (t) => {
    await ok(t, d, ['snapshot', 'create', 'c1', 's1', '--no-expiry']);
    t.match((await ok(t, d, ['config', 'show', 'c1/s1'])).stdout, /^expires_at: 0001-01-01T00:00:00Z\narchitecture: /);
    await ok(t, d, ['config', 'set', 'c1/s1', 'expires_at=2050-01-01T10:10:10.753398689-04:00', '--property']);
    t.equal((await ok(t, d, ['config', 'get', 'c1/s1', 'expires_at', '--property'])).stdout, '2050-01-01 10:10:10.753398689 -0400 -0400\n');
    t.match((await ok(t, d, ['config', 'show', 'c1/s1'])).stdout, /^expires_at: 2050-01-01T10:10:10.753398689-04:00\n/, 'the offset is kept');
    t.equal((await ok(t, d, ['config', 'get', 'c1/s1', 'name', '-p'])).stdout, 's1\n');
    const cfg = await d.cli(['config', 'set', 'c1/s1', 'user.x=1']);
    t.equal(cfg.stderr, 'Error: There is no config key to set on an instance snapshot.\n');
    const nope = await d.cli(['config', 'get', 'c1/s1', 'nope', '-p']);
    t.equal(nope.stderr, 'Error: The property "nope" does not exist on the instance snapshot c1/s1: The property with tag "nope" does not exist\n');
    await ok(t, d, ['config', 'unset', 'c1/s1', 'expires_at', '--property']);
    t.match((await ok(t, d, ['config', 'show', 'c1/s1'])).stdout, /^expires_at: 0001-01-01T00:00:00Z\n/);
    await ok(t, d, ['config', 'edit', 'c1/s1'], 'expires_at: 2040-02-03T04:05:06Z\n');
    t.equal((await ok(t, d, ['config', 'get', 'c1/s1', 'expires_at', '-p'])).stdout, '2040-02-03 04:05:06 +0000 UTC\n', 'edited from stdin');
    await ok(t, d, ['snapshot', 'delete', 'c1', 's1']);
  });

  await t.test('storage volume get|set|unset --property on a volume snapshot; snapshot show', async (t) => {
    await ok(t, d, ['storage', 'volume', 'create', 'default', 'v1']);
    await ok(t, d, ['storage', 'volume', 'snapshot', 'create', 'default', 'v1']);
    await ok(t, d, ['storage', 'volume', 'set', 'default', 'v1/snap0', 'expires_at=2052-03-23T17:38:37.753398689-04:00', 'description=kept', '--property']);
    const shown = (await ok(t, d, ['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 'snap0'])).stdout;
    t.match(shown, /^description: kept\nexpires_at: 2052-03-23T17:38:37.753398689-04:00\nname: snap0\n/);
    t.equal((await ok(t, d, ['storage', 'volume', 'get', 'default', 'v1/snap0', 'description', '-p'])).stdout, 'kept\n');
    const ro = await d.cli(['storage', 'volume', 'set', 'default', 'v1/snap0', 'user.a=1']);
    t.equal(ro.stderr, "Error: Snapshots are read-only and can't have their configuration changed\n");
    await ok(t, d, ['storage', 'volume', 'unset', 'default', 'v1/snap0', 'expires_at', '--property']);
    t.match((await ok(t, d, ['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 'snap0'])).stdout, /\nexpires_at: 0001-01-01T00:00:00Z\n/);
    t.equal((await ok(t, d, ['storage', 'volume', 'get', 'default', 'v1', 'user.unset'])).stdout, '', 'an unset key prints nothing');
    await ok(t, d, ['storage', 'volume', 'set', 'default', 'v1', 'description=vol', '-p']);
    t.equal((await ok(t, d, ['storage', 'volume', 'get', 'default', 'v1', 'description', '--property'])).stdout, 'vol\n');
    const missing = await d.cli(['storage', 'volume', 'get', 'default', 'nov', 'size']);
    t.equal(missing.stderr, 'Error: Storage pool volume "custom/nov" not found\n');
    await ok(t, d, ['storage', 'volume', 'delete', 'default', 'v1']);
  });

  await t.test('create with -c and -p repeated, -d over a profile device, --no-profiles', async (t) => {
    await ok(t, d, ['profile', 'create', 'small']);
    await ok(t, d, ['create', 'busybox', 'c3', '-c', 'user.a=1', '-c', 'user.b=2', '-p', 'default', '-p', 'small', '-d', 'root,size=1GiB']);
    const c3 = await d.client.getInstance('c3');
    t.same([c3.config['user.a'], c3.config['user.b']], ['1', '2']);
    t.same(c3.profiles, ['default', 'small']);
    t.same(c3.devices.root, { type: 'disk', path: '/', pool: 'default', size: '1GiB' }, 'the profile root device copied with the override');
    await ok(t, d, ['create', 'busybox', 'c4', '--no-profiles', '-d', 'root,size=2GiB']);
    const c4 = await d.client.getInstance('c4');
    t.same(c4.profiles, []);
    t.equal(c4.devices.root?.size, '2GiB');
    await ok(t, d, ['profile', 'assign', 'c4', 'default', 'small']);
    t.same((await d.client.getInstance('c4')).profiles, ['default', 'small'], 'assign with separate names');
    t.equal((await ok(t, d, ['profile', 'assign', 'c4', ''])).stdout, 'All profiles removed from c4\n', '"" means no profiles');
    t.same((await d.client.getInstance('c4')).profiles, []);
    await ok(t, d, ['profile', 'assign', 'c4', 'default']);
    t.equal((await ok(t, d, ['profile', 'assign', 'c4', '--no-profiles'])).stdout, 'All profiles removed from c4\n');
    t.same((await d.client.getInstance('c4')).profiles, []);
    t.equal(
      (await d.cli(['profile', 'assign', 'c4', 'default', '--no-profiles'])).stderr,
      'Error: --no-profiles cannot be used together with other arguments\n',
    );
    const bad = await d.cli(['create', 'busybox', 'c5', '-d', 'nope,size=1GiB']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /Cannot override config for device "nope": Device not found in profile devices/);
    await ok(t, d, ['delete', 'c3', 'c4']);
    await ok(t, d, ['profile', 'delete', 'small']);
  });

  await t.test('client: patchProfile merges, putInstance with a stale ETag is refused', async (t) => {
    await createProfile(d.client, { name: 'pp', config: { 'user.a': '1' } });
    await patchProfile(d.client, 'pp', { config: { 'user.b': '2' } });
    t.same((await d.client.getProfile('pp')).config, { 'user.a': '1', 'user.b': '2' });
    await renameProfile(d.client, 'pp', 'pq');
    await deleteProfile(d.client, 'pq');
    t.equal((await d.client.getProfiles()).some((p) => p.name === 'pq'), false);
    const { value, etag } = await d.client.getInstanceWithEtag('c1');
    await ok(t, d, ['config', 'set', 'c1', 'user.bump=1']);
    const stale = await putInstance(d.client, 'c1', { ...value, config: { ...value.config, 'user.stale': '1' } }, { etag }).then(
      () => null,
      (err: unknown) => err,
    );
    t.type(stale, ApiError);
    t.equal((stale as ApiError).status, 412, 'stale ETag: 412');
    t.notOk('user.stale' in (await d.client.getInstance('c1')).config);
  });

  await t.test('config device add/get/set/remove/override', async (t) => {
    await ok(t, d, ['create', 'busybox', 'c2']);
    t.equal((await ok(t, d, ['config', 'device', 'add', 'c2', 'data', 'disk', `source=${tmp}`, 'path=/mnt'])).stdout, 'Device data added to c2\n');
    t.equal((await ok(t, d, ['config', 'device', 'list', 'c2'])).stdout, 'data\n');
    t.equal((await ok(t, d, ['config', 'device', 'get', 'c2', 'data', 'source'])).stdout, `${tmp}\n`);
    await ok(t, d, ['config', 'device', 'set', 'c2', 'data', 'readonly', 'true']);
    t.same((await d.client.getInstance('c2')).devices.data, { type: 'disk', source: tmp, path: '/mnt', readonly: 'true' });
    t.equal(
      (await d.cli(['config', 'device', 'set', 'c2', 'root', 'size=1GiB'])).stderr,
      'Error: Device from profile(s) cannot be modified for individual instance. Override device or modify profile instead\n',
    );
    t.equal(
      (await d.cli(['config', 'device', 'get', 'c2', 'root', 'pool'])).stderr,
      'Error: Device from profile(s) cannot be retrieved for individual instance\n',
    );
    t.equal((await ok(t, d, ['config', 'device', 'override', 'c2', 'root', 'user.mark=1'])).stdout, 'Device root overridden for c2\n');
    const c2 = await d.client.getInstance('c2');
    t.same(c2.devices.root, { type: 'disk', path: '/', pool: 'default', 'user.mark': '1' }, 'the profile device copied with the change');
    t.equal((await d.cli(['config', 'device', 'override', 'c2', 'root'])).stderr, 'Error: The device already exists\n');
    t.equal((await d.cli(['config', 'device', 'override', 'c2', 'nope'])).stderr, "Error: The profile device doesn't exist\n");
    t.equal(
      (await d.cli(['config', 'device', 'set', 'c2', 'root', 'pool=other'])).stderr,
      'Error: Cannot update root disk device pool name to "other"\n',
      'the root pool cannot change under an instance',
    );
    t.equal((await ok(t, d, ['config', 'device', 'remove', 'c2', 'data', 'root'])).stdout, 'Device data, root removed from c2\n');
    t.same((await d.client.getInstance('c2')).devices, {});
    t.ok((await d.client.getInstance('c2')).expanded_devices.root, 'the profile root device is back in effect');
  });
});

t.test('config edit through an editor on a terminal', { skip: haveScript ? false : 'util-linux script is not installed' }, async (t) => {
  const d = await withDaemon(t);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-edit-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  await ok(t, d, ['create', 'busybox', 'e1', '-c', 'limits.memory=64MiB']);
  const events: Event[] = [];
  const stream = await d.client.events(['lifecycle']);
  t.teardown(() => stream.close());
  stream.on((e) => void events.push(e));

  await t.test('unchanged text: no request, same ETag', async (t) => {
    const before = await d.client.getInstanceWithEtag('e1');
    const editor = editorScript(tmp, 'true');
    const r = await cliOnTty(d, ['config', 'edit', 'e1'], { EDITOR: editor });
    t.equal(r.code, 0, r.stdout);
    t.equal(calls(tmp), 1);
    t.match(fs.readFileSync(path.join(tmp, 'seen.1'), 'utf8'), /\nconfig:\n(  .*\n)*  limits\.memory: 64MiB\n/, 'the editor saw the config');
    await new Promise((r) => setTimeout(r, 300));
    t.equal((await d.client.getInstanceWithEtag('e1')).etag, before.etag, 'ETag unchanged');
    t.same(events.filter((e) => (e.metadata as { action?: string }).action === 'instance-updated'), [], 'no update reached the server');
  });

  await t.test('an invalid edit shows the error and reopens the editor', async (t) => {
    const editor = editorScript(
      tmp,
      `if [ $n = 1 ]; then sed -i 's/limits.memory: 64MiB/limits.memory: lots/' "$1"; else sed -i 's/limits.memory: lots/limits.memory: 96MiB/' "$1"; fi`,
    );
    const r = await cliOnTty(d, ['config', 'edit', 'e1'], { EDITOR: editor }, '\n');
    t.equal(r.code, 0, r.stdout);
    t.equal(calls(tmp), 2, 'editor opened twice');
    t.match(r.stdout, /Config parsing error: .*limits\.memory.*\n/, 'the error is shown');
    t.match(r.stdout, /Press enter to open the editor again or ctrl\+c to abort change\n/);
    t.match(fs.readFileSync(path.join(tmp, 'seen.2'), 'utf8'), /^# Error: .*limits\.memory[^\n]*\n###/, 'the error is on top of the reopened text');
    t.equal((await d.client.getInstance('e1')).config['limits.memory'], '96MiB', 'the fixed edit is applied');
  });

  await t.test('a broken YAML edit is not sent; closing stdin aborts', async (t) => {
    const before = await d.client.getInstanceWithEtag('e1');
    const editor = editorScript(tmp, `echo 'config: [' > "$1"`);
    const r = await cliOnTty(d, ['config', 'edit', 'e1'], { EDITOR: editor });
    t.not(r.code, 0, 'no key press: the edit is abandoned');
    t.match(r.stdout, /Config parsing error: yaml: /);
    t.equal((await d.client.getInstanceWithEtag('e1')).etag, before.etag, 'nothing changed');
  });

  await t.test('profile edit in the editor', async (t) => {
    await ok(t, d, ['profile', 'create', 'pe']);
    const editor = editorScript(tmp, `sed -i 's/^config: {}$/config:\\n  user.edited: "yes"/' "$1"`);
    const r = await cliOnTty(d, ['profile', 'edit', 'pe'], { EDITOR: editor });
    t.equal(r.code, 0, r.stdout);
    t.match(fs.readFileSync(path.join(tmp, 'seen.1'), 'utf8'), /\nname: pe\nused_by: \[\]\n/);
    t.same((await d.client.getProfile('pe')).config, { 'user.edited': 'yes' });
  });

  await t.test('config edit from stdin (not a terminal)', async (t) => {
    const shown = (await ok(t, d, ['config', 'show', 'e1'])).stdout;
    await ok(t, d, ['config', 'edit', 'e1'], shown.replace('limits.memory: 96MiB', 'limits.memory: 128MiB'));
    t.equal((await d.client.getInstance('e1')).config['limits.memory'], '128MiB');
    const bad = await d.cli(['config', 'edit', 'e1'], shown.replace('limits.memory: 96MiB', 'limits.memory: lots'));
    t.equal(bad.code, 1);
    t.match(bad.stderr, /limits\.memory/);
  });
});
