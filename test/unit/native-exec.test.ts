/** The forkexec helper's command line, and the checks made before anything is spawned. */
import t from 'tap';
import { fstatSync, openSync } from 'node:fs';
import { type AttachSpec, AttachedProcess, forkexecArgs } from '../../lib/native/exec';

const base: AttachSpec = {
  name: 'c1',
  lxcpath: '/var/lib/incus/containers',
  configPath: '/var/lib/incus/logs/c1/lxc.conf',
  command: ['sh', '-c', 'echo -- "$A"'],
  environment: { PATH: '/bin', A: 'x=y' },
  cwd: '',
  uid: 1000,
  gid: 1001,
  stdio: [0, 1, 2],
};

t.test('arguments: fixed fields, env section, cmd section (which may hold --)', async (t) => {
  t.same(forkexecArgs(base), [
    'forkexec', 'c1', '/var/lib/incus/containers', '/var/lib/incus/logs/c1/lxc.conf', '', '1000', '1001',
    '--', 'env', 'PATH=/bin', 'A=x=y',
    '--', 'cmd', 'sh', '-c', 'echo -- "$A"',
  ]);
});

t.test('bad specs are refused before any spawn, and the stdio fds handed over are closed', async (t) => {
  const bad: [string, Partial<AttachSpec>][] = [
    ['empty command', { command: [] }],
    ['NUL in an argument', { command: ['a\0b'] }],
    ['= in a variable name', { environment: { 'A=B': 'x' } }],
    ['relative lxcpath', { lxcpath: 'containers' }],
    ['bad container name', { name: '../x' }],
    ['negative uid', { uid: -1 }],
  ];
  for (const [what, patch] of bad) {
    const fd = openSync('/dev/null', 'r');
    t.throws(() => new AttachedProcess({ ...base, ...patch, stdio: [fd, fd, fd] }), what);
    t.throws(() => fstatSync(fd), { code: 'EBADF' }, `${what}: fd closed`);
  }
});
