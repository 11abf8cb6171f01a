/** Exec request logic: control messages, environment, id maps, option checks, exit statuses. */
import t from 'tap';
import { parseExecControl } from '../../../lib/server/instance/exec/control';
import { DEFAULT_PATH, execEnvironment } from '../../../lib/server/instance/exec/environment';
import { commandFailure } from '../../../lib/server/instance/exec/exit-status';
import { hostIdOfRoot } from '../../../lib/server/instance/drivers/lxc/exec';
import { checkExecPost } from '../../../lib/server/instance/exec/start';
import { execOutputDir, recordedOutputFiles, validExecOutputFileName } from '../../../lib/server/instance/exec/output-files';

t.test('control messages as Incus reads them', async (t) => {
  t.same(parseExecControl('{"command":"window-resize","args":{"width":"120","height":"40"}}'), { kind: 'resize', width: 120, height: 40 });
  t.same(parseExecControl('{"command":"signal","signal":15}'), { kind: 'signal', signal: 15 });
  t.same(parseExecControl('{"command":"signal","signal":0,"args":{"signal":"2"}}'), { kind: 'signal', signal: 2 }, 'args.signal when the field is unset');
  t.equal(parseExecControl('{"command":"window-resize","args":{"width":"x","height":"40"}}'), null, 'a bad width is skipped');
  t.equal(parseExecControl('{"command":"window-resize","args":{"width":"0","height":"40"}}'), null);
  t.equal(parseExecControl('{"command":"signal","signal":99}'), null, 'no such signal');
  t.equal(parseExecControl('{"command":"signal"}'), null);
  t.equal(parseExecControl('{"command":"other"}'), null);
  t.equal(parseExecControl('not json'), null);
  t.equal(parseExecControl('null'), null);
});

t.test('environment: request, then instance keys, then defaults', async (t) => {
  const none = (): boolean => false;
  t.same(execEnvironment({ requested: null, expandedConfig: {}, user: 0, exists: none }), {
    PATH: DEFAULT_PATH,
    HOME: '/root',
    USER: 'root',
    LANG: 'C.UTF-8',
  });
  const env = execEnvironment({
    requested: { FOO: 'from-request', PATH: '/bin' },
    expandedConfig: { 'environment.FOO': 'from-config', 'environment.BAR': 'bar', 'limits.cpu': '1' },
    user: 1000,
    exists: none,
  });
  t.same(env, { FOO: 'from-request', PATH: '/bin', BAR: 'bar', LANG: 'C.UTF-8' }, 'no HOME/USER for other users; the request wins');
  const snap = execEnvironment({ requested: {}, expandedConfig: {}, user: 0, exists: (p) => p === '/snap' });
  t.equal(snap.PATH, `${DEFAULT_PATH}:/snap/bin`);
  const lang = execEnvironment({ requested: { LANG: 'fr_FR.UTF-8', HOME: '/home/x' }, expandedConfig: {}, user: 0, exists: none });
  t.equal(lang.LANG, 'fr_FR.UTF-8');
  t.equal(lang.HOME, '/home/x');
});

t.test('host id of the container root from /proc/<pid>/uid_map', async (t) => {
  t.equal(hostIdOfRoot('         0     100000      65536\n'), 100000);
  t.equal(hostIdOfRoot('         0          0 4294967295\n'), 0, 'privileged');
  t.equal(hostIdOfRoot('      1000     200000         10\n         0     100000       1000\n'), 100000, 'any line order');
  t.equal(hostIdOfRoot(''), 0);
});

t.test('option combinations Incus refuses', async (t) => {
  t.throws(() => checkExecPost({ command: ['x'], 'record-output': true, 'wait-for-websocket': true }), {
    message: 'Cannot use "record-output" in combination with "wait-for-websocket"',
  });
  t.throws(() => checkExecPost({ command: ['x'], 'record-output': true, interactive: true }), {
    message: 'Cannot use "interactive" in combination with "record-output"',
  });
  t.doesNotThrow(() => checkExecPost({ command: ['x'], 'record-output': true }));
  t.doesNotThrow(() => checkExecPost({ command: ['x'], 'wait-for-websocket': true, interactive: true }));
});

t.test('exit statuses that fail the operation', async (t) => {
  t.equal(commandFailure(127)?.message, 'Command not found');
  t.equal(commandFailure(127)?.status, 400);
  t.equal(commandFailure(126)?.message, 'Command not executable');
  for (const code of [0, 1, 7, 128, 137, 255, -1]) t.equal(commandFailure(code), null, `${code} is the command's own`);
});

t.test('recorded output file names', async (t) => {
  t.same(recordedOutputFiles('abc'), { stdout: 'exec_abc.stdout', stderr: 'exec_abc.stderr' });
  t.equal(execOutputDir('/var/lib/incus/storage-pools/default/containers/c1'), '/var/lib/incus/storage-pools/default/containers/c1/exec-output');
  for (const ok of ['exec_abc.stdout', 'exec_abc.stderr']) t.ok(validExecOutputFileName(ok), ok);
  for (const bad of ['', 'exec_abc.log', 'lxc.log', 'x_exec_abc.stdout', '../exec_abc.stdout', 'd/exec_abc.stdout', 'exec_abc.stdout/']) {
    t.notOk(validExecOutputFileName(bad), `refused: ${JSON.stringify(bad)}`);
  }
});
