/**
 * `incus file mount`: the SSH SFTP listener (an ssh2 client logs in with
 * the printed credentials, lists and reads the container's files; a wrong
 * password is refused; without auth anyone gets in), the sshfs mount (a
 * file of the container read through the local mount point; ctrl+c
 * unmounts), and the usage errors Incus gives. The CLI processes started
 * here are ended by PID; a mount left behind is lazily unmounted.
 */
import t from 'tap';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type TestDaemon, withDaemon } from './lib/daemon';

interface SftpLike {
  readdir(path: string, cb: (err: Error | undefined, list: { filename: string }[]) => void): void;
  readFile(path: string, cb: (err: Error | undefined, data: Buffer) => void): void;
}
interface SshClient {
  on(ev: 'ready', fn: () => void): SshClient;
  on(ev: 'error', fn: (e: Error) => void): SshClient;
  connect(cfg: Record<string, unknown>): void;
  sftp(cb: (err: Error | undefined, s: SftpLike) => void): void;
  end(): void;
}
const { Client } = require('ssh2') as { Client: new () => SshClient };

const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `incus file mount ...` and collects its output. */
function startMount(d: TestDaemon, args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'incus'), 'file', 'mount', ...args], {
    env: { ...process.env, ...d.cliEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  return { child, out: () => text };
}

async function until<T>(fn: () => T | undefined, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(c: ChildProcess, ms: number): Promise<number | null> {
  if (c.exitCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Logs in over SSH and returns the root listing and /etc/hostname, or the error. */
function sshRead(port: number, auth: Record<string, unknown>): Promise<{ names: string[]; hostname: string } | Error> {
  return new Promise((resolve) => {
    const c = new Client();
    c.on('error', (e) => resolve(e));
    c.on('ready', () => {
      c.sftp((err, s) => {
        if (err) return resolve(err);
        s.readdir('/', (e1, list) => {
          if (e1) return resolve(e1);
          s.readFile('/etc/hostname', (e2, data) => {
            c.end();
            if (e2) return resolve(e2);
            resolve({ names: list.map((l) => l.filename), hostname: data.toString().trim() });
          });
        });
      });
    });
    c.connect({ host: '127.0.0.1', port, readyTimeout: 20_000, ...auth });
  });
}

t.test('incus file mount', async (t) => {
  const d = await withDaemon(t);
  const launch = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(launch.code, 0, launch.stderr);

  // Usage errors, as Incus words them.
  const listenPath = await d.cli(['file', 'mount', 'c1/etc']);
  t.match(listenPath.stderr, /Instance path cannot be used in SSH SFTP listener mode/);
  const work = fs.mkdtempSync(join(tmpdir(), 'incus-mount-'));
  t.teardown(() => {
    spawnSync('umount', ['-l', join(work, 'mnt')]);
    fs.rmSync(work, { recursive: true, force: true });
  });
  const noPath = await d.cli(['file', 'mount', 'c1', work]);
  t.match(noPath.stderr, /An instance path is required for c1/);
  const both = await d.cli(['file', 'mount', 'c1/etc', work, '--listen', '127.0.0.1:0']);
  t.match(both.stderr, /Target path and --listen flag cannot be used together/);
  fs.writeFileSync(join(work, 'file'), '');
  const notDir = await d.cli(['file', 'mount', 'c1/etc', join(work, 'file')]);
  t.match(notDir.stderr, /Target path must be a directory/);

  // The SSH SFTP listener with generated credentials.
  const l = startMount(d, ['c1', '--listen', '127.0.0.1:0', '--auth-user', 'tester']);
  const port = await until(() => {
    const m = /SSH SFTP listening on 127\.0\.0\.1:(\d+)/.exec(l.out());
    return m ? Number(m[1]) : undefined;
  }, 20_000);
  t.ok(port, `the listener printed its address: ${l.out().trim().split('\n')[0] ?? ''}`);
  const password = /Login with username "tester" and password "([A-Za-z0-9]{8})"/.exec(l.out())?.[1];
  t.ok(password, 'and the credentials');
  const got = await sshRead(port ?? 0, { username: 'tester', password });
  t.notOk(got instanceof Error, `SFTP over SSH: ${got instanceof Error ? got.message : 'ok'}`);
  if (!(got instanceof Error)) {
    t.ok(got.names.includes('etc') && got.names.includes('bin'), 'lists the container root');
    t.equal(got.hostname, 'c1', "reads the container's /etc/hostname");
  }
  const wrong = await sshRead(port ?? 0, { username: 'tester', password: 'wrong-pw' });
  t.ok(wrong instanceof Error, 'a wrong password is refused');
  l.child.kill('SIGINT');
  t.equal(await exited(l.child, 10_000), 0, 'ctrl+c ends the listener');

  const open = startMount(d, ['c1', '--listen', '127.0.0.1:0', '--no-auth']);
  const openPort = await until(() => {
    const m = /SSH SFTP listening on 127\.0\.0\.1:(\d+)/.exec(open.out());
    return m ? Number(m[1]) : undefined;
  }, 20_000);
  t.match(open.out(), /Login without username and password/);
  const anon = await sshRead(openPort ?? 0, { username: 'anyone' });
  t.notOk(anon instanceof Error, '--no-auth: no credentials needed');
  open.child.kill('SIGINT');
  await exited(open.child, 10_000);

  // sshfs: the container's /etc on a local directory.
  const haveSshfs = spawnSync('sh', ['-c', 'command -v sshfs']).status === 0 && fs.existsSync('/dev/fuse');
  t.test('sshfs mount', { skip: !haveSshfs && 'sshfs or /dev/fuse missing' }, async (t) => {
    const mnt = join(work, 'mnt');
    fs.mkdirSync(mnt);
    const m = startMount(d, ['c1/etc', mnt]);
    const mounted = await until(() => (fs.readFileSync('/proc/mounts', 'utf8').includes(` ${mnt} fuse.sshfs `) ? true : undefined), 20_000);
    t.ok(mounted, `mounted (${m.out().trim().split('\n')[0] ?? ''})`);
    t.equal(fs.readFileSync(join(mnt, 'hostname'), 'utf8').trim(), 'c1', 'a file of the container read through the mount');
    m.child.kill('SIGINT');
    await exited(m.child, 15_000);
    const gone = await until(() => (fs.readFileSync('/proc/mounts', 'utf8').includes(` ${mnt} `) ? undefined : true), 10_000);
    t.ok(gone, 'ctrl+c unmounted it');
  });
});
