/**
 * Exec acceptance against a real daemon and a busybox container: exit
 * codes, signals, stdio, environment/cwd/user, ptys, control messages,
 * concurrency, fd leaks, error statuses, record-output, our CLI (`incus
 * exec`, `incus shell`) and, when installed, Debian's LXD 5.0 client.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { InstanceExecPost } from '../../lib/api/instance-exec';
import { ApiError, type ExecControl, execInstance, execReturn } from '../../lib/client';
import { openOperationSocket } from '../../lib/client/ws-stream';
import { rawRequest } from './lib/http';
import { ROOT, type TestDaemon, withDaemon } from './lib/daemon';

const INCUS = join(ROOT, 'bin', 'incus');

interface Captured {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  constructor(private readonly onChunk?: (all: string) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    this.onChunk?.(this.text());
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Runs a command through lib/client with websockets and captures its output. */
async function apiExec(
  d: TestDaemon,
  command: string[],
  opts: { stdin?: Buffer; post?: Partial<InstanceExecPost>; onControl?: (c: ExecControl) => void; onOutput?: (all: string) => void } = {},
): Promise<Captured> {
  const stdout = new Sink(opts.onOutput);
  const stderr = new Sink();
  const r = await execInstance(d.client, 'c1', { command, ...opts.post }, {
    stdin: opts.stdin ? Readable.from([opts.stdin]) : null,
    stdout,
    stderr,
    onControl: opts.onControl,
  });
  return { code: r.code, stdout: Buffer.concat(stdout.chunks), stderr: Buffer.concat(stderr.chunks) };
}

/** Our CLI with binary stdin and stdout. */
function cliRaw(d: TestDaemon, args: string[], input: Buffer): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [INCUS, ...args], {
      env: { ...process.env, ...d.cliEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => err.push(b));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    c.stdin.on('error', () => undefined);
    c.stdin.end(input);
  });
}

/** Waits until `cond` holds or `ms` pass. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const lxdProbe = spawnSync('lxc', ['version'], { encoding: 'utf8', env: { ...process.env, LXD_DIR: '/nonexistent' } });
const haveLxd = lxdProbe.status !== null && /Client version: 5\./.test(lxdProbe.stdout + lxdProbe.stderr);

t.test('exec', async (t) => {
  const d = await withDaemon(t);
  const launch = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(launch.code, 0, `launch: ${launch.stderr}`);

  t.test('exit codes from the API and the CLI', async (t) => {
    for (const code of [0, 1, 7, 255]) {
      const r = await apiExec(d, ['sh', '-c', `exit ${code}`]);
      t.equal(r.code, code, `API: exit ${code}`);
      const c = await d.cli(['exec', 'c1', '--', 'sh', '-c', `exit ${code}`]);
      t.equal(c.code, code, `CLI: exit ${code}`);
    }
  });

  t.test('a command killed by a signal reports 128+N', async (t) => {
    t.equal((await apiExec(d, ['sh', '-c', 'kill -9 $$'])).code, 137, 'API: SIGKILL');
    t.equal((await apiExec(d, ['sh', '-c', 'kill -15 $$'])).code, 143, 'API: SIGTERM');
    t.equal((await d.cli(['exec', 'c1', '--', 'sh', '-c', 'kill -9 $$'])).code, 137, 'CLI: SIGKILL');
  });

  t.test('command not found: operation fails, return 127', async (t) => {
    const err = await apiExec(d, ['no-such-command']).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof ApiError, 'the operation failed');
    t.equal((err as ApiError).message, 'Command not found');
    t.equal(execReturn((err as ApiError).operation), 127, 'metadata.return is 127');
    const c = await d.cli(['exec', 'c1', '--', 'no-such-command']);
    t.equal(c.code, 127);
    t.match(c.stderr, /^Error: Command not found$/m);
  });

  t.test('1 MiB through cat arrives intact; stdout and stderr stay apart', async (t) => {
    const data = randomBytes(1024 * 1024);
    const r = await apiExec(d, ['cat'], { stdin: data });
    t.equal(r.code, 0);
    t.ok(r.stdout.equals(data), `API: ${r.stdout.length} bytes back, identical`);
    const c = await cliRaw(d, ['exec', 'c1', '--', 'cat'], data);
    t.equal(c.code, 0, c.stderr.toString());
    t.ok(c.stdout.equals(data), `CLI: ${c.stdout.length} bytes back, identical`);

    const s = await apiExec(d, ['sh', '-c', 'echo to-out; echo to-err >&2; echo more-out']);
    t.equal(s.stdout.toString(), 'to-out\nmore-out\n');
    t.equal(s.stderr.toString(), 'to-err\n');
    const sc = await d.cli(['exec', 'c1', '--', 'sh', '-c', 'echo to-out; echo to-err >&2']);
    t.equal(sc.stdout, 'to-out\n');
    t.equal(sc.stderr, 'to-err\n');
  });

  t.test('--env, --cwd, --user and --group take effect', async (t) => {
    const c = await d.cli(['exec', 'c1', '--env', 'FOO=bar baz', '--env', 'EMPTY', '--cwd', '/tmp', '--user', '1000', '--group', '1001', '--', 'sh', '-c', 'echo "$FOO|${EMPTY-unset}"; pwd; id -u; id -g']);
    t.equal(c.code, 0, c.stderr);
    t.equal(c.stdout, 'bar baz|\n/tmp\n1000\n1001\n');
    const env = await apiExec(d, ['env']);
    const lines = env.stdout.toString().split('\n');
    for (const want of ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'USER=root', 'LANG=C.UTF-8']) {
      t.ok(lines.includes(want), `default environment has ${want}`);
    }
    t.equal((await apiExec(d, ['pwd'])).stdout.toString(), '/root\n', 'root starts in /root');
  });

  t.test('interactive: a pty, resize and signals through the control socket', async (t) => {
    const tty = await apiExec(d, ['sh', '-c', 'tty; stty size'], { post: { interactive: true, width: 100, height: 30 } });
    t.equal(tty.code, 0);
    t.match(tty.stdout.toString(), /^\/dev\/pts\/\d+\r\n30 100\r\n$/, 'tty names a pty; the size asked for is set');

    let control: ExecControl | undefined;
    let resized = false;
    const winch = await apiExec(d, ['sh', '-c', 'trap "stty size; exit 0" WINCH; echo ready; while :; do sleep 0.05; done'], {
      post: { interactive: true },
      onControl: (c) => (control = c),
      onOutput: (all) => {
        if (!resized && all.includes('ready')) {
          resized = true;
          control?.resize(132, 43);
        }
      },
    });
    t.equal(winch.code, 0);
    t.match(winch.stdout.toString(), /43 132/, 'stty size sees the resize');

    let signalled = false;
    const sig = await apiExec(d, ['sh', '-c', 'trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.05; done'], {
      post: { interactive: true },
      onControl: (c) => (control = c),
      onOutput: (all) => {
        if (!signalled && all.includes('ready')) {
          signalled = true;
          control?.signal(2);
        }
      },
    });
    t.equal(sig.code, 9, 'the trap ran');
    t.match(sig.stdout.toString(), /got-int/);

    let killed = false;
    const term = await apiExec(d, ['sh', '-c', 'echo ready; exec sleep 100'], {
      onControl: (c) => (control = c),
      onOutput: (all) => {
        if (!killed && all.includes('ready')) {
          killed = true;
          control?.signal(15);
        }
      },
    });
    t.equal(term.code, 143, 'non-interactive: SIGTERM on the control socket ends sleep with 128+15');
  });

  t.test('100 concurrent execs all return the right codes', async (t) => {
    const runs = Array.from({ length: 100 }, (_, i) =>
      apiExec(d, ['sh', '-c', `echo ${i}; exit ${i % 256}`]).then(
        (r) => ({ i, code: r.code, out: r.stdout.toString(), err: r.stderr.toString() }),
        (err: Error) => ({ i, code: -1, out: '', err: err.message }),
      ),
    );
    const results = await Promise.all(runs);
    const wrong = results.filter((r) => r.code !== r.i % 256 || r.out !== `${r.i}\n`);
    t.same(wrong, [], 'every exec got its own code and output');
  });

  t.test('no fd leak in the daemon after 500 execs', async (t) => {
    await apiExec(d, ['true']);
    d.client.close();
    await new Promise((r) => setTimeout(r, 300));
    const before = fdCount(d.pid);
    for (let batch = 0; batch < 50; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, () => apiExec(d, ['true'])));
      if (rs.some((r) => r.code !== 0)) throw new Error('an exec failed');
    }
    d.client.close();
    const settled = await until(() => fdCount(d.pid) <= before, 5000);
    t.ok(settled, `daemon fds: ${before} before, ${fdCount(d.pid)} after`);
  });

  t.test('record-output and plain task execs', async (t) => {
    const r = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/exec', JSON.stringify({ command: ['sh', '-c', 'echo rec-out; echo rec-err >&2; exit 3'], 'record-output': true }));
    t.equal(r.status, 202);
    const opId = (r.body.metadata as { id: string }).id;
    const done = await rawRequest(d.socket, 'GET', `/1.0/operations/${opId}/wait?timeout=30`);
    const md = (done.body.metadata as { metadata: { return: number; output: Record<string, string> } }).metadata;
    t.equal(md.return, 3);
    const base = '/1.0/instances/c1/logs/exec-output';
    t.same(md.output, { '1': `${base}/exec_${opId}.stdout`, '2': `${base}/exec_${opId}.stderr` });
    const outDir = join(d.dir, 'storage-pools', 'default', 'containers', 'c1', 'exec-output');
    t.equal(readFileSync(join(outDir, `exec_${opId}.stdout`), 'utf8'), 'rec-out\n');
    t.equal(readFileSync(join(outDir, `exec_${opId}.stderr`), 'utf8'), 'rec-err\n');

    // The exec-output endpoints: list, read, delete, and the names they refuse.
    const list = await rawRequest(d.socket, 'GET', base);
    t.same(list.body.metadata, [`${base}/exec_${opId}.stderr`, `${base}/exec_${opId}.stdout`]);
    const got = await d.cli(['query', `${base}/exec_${opId}.stdout`]);
    t.equal(got.code, 0, got.stderr);
    t.equal(got.stdout, 'rec-out\n', 'incus query serves the raw file');
    const badName = await rawRequest(d.socket, 'GET', `${base}/lxc.log`);
    t.equal(badName.status, 400);
    t.equal(badName.body.error, 'Exec record-output file name "lxc.log" not valid');
    t.equal((await rawRequest(d.socket, 'GET', '/1.0/instances/c1/logs/exec_x.stdout')).status, 400, 'not served as a log file');
    t.equal((await rawRequest(d.socket, 'DELETE', `${base}/exec_${opId}.stdout`)).status, 200);
    t.notOk(existsSync(join(outDir, `exec_${opId}.stdout`)));
    const gone = await rawRequest(d.socket, 'DELETE', `${base}/exec_${opId}.stdout`);
    t.equal(gone.status, 404);
    t.equal(gone.body.error, `Exec record-output file "exec_${opId}.stdout" not found`);
    t.same((await rawRequest(d.socket, 'GET', base)).body.metadata, [`${base}/exec_${opId}.stderr`]);

    const plain = await execInstance(d.client, 'c1', { command: ['sh', '-c', 'exit 5'], 'wait-for-websocket': false });
    t.equal(plain.code, 5, 'without websockets the code still comes back');

    const both = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/exec', JSON.stringify({ command: ['true'], 'record-output': true, 'wait-for-websocket': true }));
    t.equal(both.status, 400);
    t.equal(both.body.error, 'Cannot use "record-output" in combination with "wait-for-websocket"');
  });

  t.test('websocket operation: metadata, secrets, cancel before connecting', async (t) => {
    const r = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/exec', JSON.stringify({ command: ['true'], 'wait-for-websocket': true, interactive: true }));
    t.equal(r.status, 202);
    const op = r.body.metadata as { id: string; class: string; metadata: { fds: Record<string, string>; interactive: boolean } };
    t.equal(op.class, 'websocket');
    t.same(Object.keys(op.metadata.fds).sort(), ['0', 'control'], 'interactive: 0 and control');
    t.match(op.metadata.fds['0'], /^[0-9a-f]{64}$/);
    const bad = await openOperationSocket(d.client.transport, op.id, 'nope').then(
      (ws) => {
        ws.terminate();
        return null;
      },
      (e: unknown) => e,
    );
    t.equal((bad as ApiError | null)?.status, 403, 'a wrong secret is refused');
    await rawRequest(d.socket, 'DELETE', `/1.0/operations/${op.id}`);
    const done = await rawRequest(d.socket, 'GET', `/1.0/operations/${op.id}/wait?timeout=10`);
    t.equal((done.body.metadata as { status: string }).status, 'Cancelled');
  });

  t.test('unknown instance 404; stopped instance 400', async (t) => {
    const r = await rawRequest(d.socket, 'POST', '/1.0/instances/nope/exec', JSON.stringify({ command: ['true'], 'wait-for-websocket': true }));
    t.equal(r.status, 404);
    t.equal(r.body.error, 'Instance not found');
    const c = await d.cli(['exec', 'nope', '--', 'true']);
    t.equal(c.code, 1);
    t.match(c.stderr, /Error: Instance not found/);

    t.equal((await d.cli(['launch', 'busybox', 'c2'])).code, 0);
    t.equal((await d.cli(['stop', '-f', 'c2'])).code, 0);
    const s = await rawRequest(d.socket, 'POST', '/1.0/instances/c2/exec', JSON.stringify({ command: ['true'], 'wait-for-websocket': true }));
    t.equal(s.status, 400);
    t.equal(s.body.error, 'Instance is not running');
    const sc = await d.cli(['exec', 'c2', '--', 'true']);
    t.equal(sc.code, 1);
    t.match(sc.stderr, /Error: Instance is not running/);

    const e = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/exec', JSON.stringify({ command: [] }));
    t.equal(e.status, 400, 'an empty command is refused');
  });

  t.test('CLI in a terminal: pty, raw mode, incus shell', { skip: haveScript ? false : 'util-linux script is not installed' }, async (t) => {
    const env = { ...process.env, ...d.cliEnv, TERM: 'xterm' };
    const run = (cmd: string, input = ''): { code: number | null; out: string } => {
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env, input, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, out: r.stdout };
    };
    const tty = run(`${process.execPath} ${INCUS} exec c1 -- sh -c 'tty; echo $TERM; exit 6'`);
    t.equal(tty.code, 6, tty.out);
    t.match(tty.out, /\/dev\/pts\/\d+/, 'a pty inside the container');
    t.match(tty.out, /xterm/, 'TERM is passed on');
    const notty = run(`${process.execPath} ${INCUS} exec -T c1 -- sh -c 'tty; exit 0'`);
    t.match(notty.out, /not a tty/, '-T gives pipes');
    const shell = run(`${process.execPath} ${INCUS} shell c1`, 'echo "home=$HOME user=$USER"; exit 4\n');
    t.equal(shell.code, 4, shell.out);
    t.match(shell.out, /home=\/root user=root/, 'su -l gives a login shell');
  });

  t.test('LXD 5.0 client: lxc exec', { skip: haveLxd ? false : 'the lxd-client package is not installed' }, async (t) => {
    const lxdDir = mkdtempSync(join(tmpdir(), 'lxd-dir-'));
    const conf = mkdtempSync(join(tmpdir(), 'lxd-conf-'));
    t.teardown(() => {
      rmSync(lxdDir, { recursive: true, force: true });
      rmSync(conf, { recursive: true, force: true });
    });
    symlinkSync(d.socket, join(lxdDir, 'unix.socket'));
    const lxc = (args: string[], input: Buffer | string = ''): { code: number | null; out: Buffer; err: string } => {
      const r = spawnSync('lxc', args, { env: { ...process.env, LXD_DIR: lxdDir, LXD_CONF: conf }, input, timeout: 60_000 });
      return { code: r.status, out: r.stdout, err: r.stderr.toString() };
    };
    const seven = lxc(['exec', 'c1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.equal(seven.code, 7, seven.err);
    t.equal(seven.out.toString(), 'out\n');
    t.match(seven.err, /^err$/m);
    const data = randomBytes(256 * 1024);
    const cat = lxc(['exec', 'c1', '--', 'cat'], data);
    t.equal(cat.code, 0, cat.err);
    t.ok(cat.out.equals(data), 'stdin and stdout pass through intact');
  });

  t.test('the forkexec server is a child of the daemon', async (t) => {
    const kids = readFileSync(`/proc/${d.pid}/task/${d.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const helpers = kids.filter((p) => existsSync(`/proc/${p}/cmdline`) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('forkexec-server'));
    t.equal(helpers.length, 1, 'one forkexec server');
  });
});
