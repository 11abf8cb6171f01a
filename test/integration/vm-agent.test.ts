/**
 * incus-agent, the static guest binary, and the daemon-side client:
 * 1. on the host over an inherited socket (--fd): exec with argv taken
 *    literally, exit codes, 1 MiB of stdin echoed byte for byte, state,
 *    commands on a pty (tty, initial size, a resize seen by a running
 *    shell through the daemon's AgentExecTarget, bad sizes refused 400),
 *    a wrong secret answered 403 with nothing after it obeyed, malformed
 *    frames answered by a reset, never a crash;
 * 2. in the busybox test VM under TCG + OVMF, delivered on a 9p share
 *    tagged `config` and reached over the virtio-serial port through
 *    QEMU's `qemu.agent` socket: uname -r is the guest kernel, exit codes,
 *    stdin, state with lo 127.0.0.1, a wrong secret runs nothing.
 * Every agent and QEMU started here is killed by PID in teardown.
 */
import t, { type Test } from 'tap';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildBusyboxVmImage } from '../../lib/image-builder/busybox-vm';
import { AGENT_MARKER } from '../../lib/image-builder/vm/guest-init';
import { hostAccelerator } from '../../lib/server/instance/drivers/qemu/accelerator';
import { AgentClient, AgentError } from '../../lib/server/instance/drivers/qemu/agent-client';
import { AgentExecTarget } from '../../lib/server/instance/drivers/qemu/agent-exec';
import { AGENT_MAGIC, encodeControl, encodeFrame, FrameDecoder } from '../../lib/server/instance/drivers/qemu/agent-protocol';
import { prepareFirmware } from '../../lib/server/instance/drivers/qemu/firmware';
import { qemuPaths } from '../../lib/server/instance/drivers/qemu/paths';
import { startQemu, type QemuProcess } from '../../lib/server/instance/drivers/qemu/process';
import { buildQemuConfig } from '../../lib/server/instance/drivers/qemu/qemu-config';

const exec = promisify(execFile);
/** The agent under test; INCUS_TEST_AGENT may name another build of it (e.g. with sanitizers, for the host part). */
const AGENT = process.env.INCUS_TEST_AGENT ?? path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'incus-agent');
const SHIPPED_AGENT = path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'incus-agent');
const QEMU = '/usr/bin/qemu-system-x86_64';
const haveVm = existsSync(QEMU) && existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd');
const MiB = 1024 * 1024;

const agents: ChildProcess[] = [];
const qemus = new Map<number, string>();
let root = '';
t.before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vm-agent-'));
});
t.teardown(async () => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  for (const [pid, pidfile] of qemus) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pidfile)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** Collects a stream into a Buffer. */
function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve) => s.on('end', () => resolve(Buffer.concat(parts))));
}

/** Runs argv through the agent; returns exit code and output. */
async function run(c: AgentClient, argv: string[], stdin?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const e = await c.exec({ argv, env: ['PATH=/sbin:/bin:/usr/sbin:/usr/bin', 'HOME=/root'] });
  const out = collect(e.stdout);
  const err = collect(e.stderr);
  e.stdin.end(stdin ?? Buffer.alloc(0));
  const { code } = await e.exit;
  return { code, stdout: await out, stderr: (await err).toString() };
}

/** Shared checks: exit codes 0/1/7, argv never shell-interpreted, 1 MiB stdin echoed, state has lo. */
async function commonChecks(t: Test, c: AgentClient): Promise<void> {
  for (const code of [0, 1, 7]) t.equal((await run(c, ['sh', '-c', `exit ${code}`])).code, code, `exit code ${code}`);
  const lit = await run(c, ['echo', '$HOME;', '`id`', '|x']);
  t.equal(lit.stdout.toString(), '$HOME; `id` |x\n', 'argv is passed literally, no shell');
  const data = randomBytes(MiB);
  const cat = await run(c, ['cat'], data);
  t.equal(cat.code, 0, 'cat exit code');
  t.ok(cat.stdout.equals(data), `1 MiB through cat byte-identical (${cat.stdout.length} bytes back)`);
  const err = await run(c, ['sh', '-c', 'echo oops >&2; exit 3']);
  t.same([err.code, err.stderr], [3, 'oops\n'], 'stderr on its own channel');
  await t.rejects(c.exec({ argv: ['/no/such/command'] }), { code: 404, message: /Failed to execute for "\/no\/such\/command"/ });
  await t.rejects(c.exec({ argv: [] }), { code: 400 });
  const st = await c.state();
  t.ok(st.memory.total > 0, 'memory total');
  t.ok(st.processes > 1, `process count (${st.processes})`);
  t.ok(st.disk.root && st.disk.root.total > 0 && st.disk.root.usage > 0, `root filesystem use (${JSON.stringify(st.disk.root)})`);
  // Who and where a command runs as.
  const who = await c.exec({ argv: ['sh', '-c', 'echo $(id -u):$(id -g):$(pwd):$GREETING'], env: ['PATH=/sbin:/bin:/usr/sbin:/usr/bin', 'GREETING=hi'], cwd: '/tmp', uid: 1234, gid: 5678 });
  const whoOut = collect(who.stdout);
  who.stdin.end();
  t.equal((await who.exit).code, 0, 'a command as another user exits 0');
  t.equal((await whoOut).toString(), '1234:5678:/tmp:hi\n', 'uid, gid, cwd and environment as asked');
  t.ok(st.network.lo?.addresses.some((a) => a.family === 'inet' && a.address === '127.0.0.1' && a.netmask === '8'), 'lo has 127.0.0.1/8');
}

/** Whether `cond` holds within `ms`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

/**
 * Commands on a pty: `tty` names a /dev/pts/N, `stty size` sees the size
 * asked for, and a shell on a terminal opened the way the daemon opens one
 * (AgentExecTarget.pty, the ExecPty the websocket session drives) sees a
 * resize and hands back its exit code. Resizing what has no terminal: 400.
 */
async function ptyChecks(t: Test, c: AgentClient, waitMs: number): Promise<void> {
  const env = ['PATH=/sbin:/bin:/usr/sbin:/usr/bin', 'HOME=/root', 'TERM=xterm'];
  const tty = await c.exec({ argv: ['tty'], env, pty: { width: 80, height: 24 } });
  const ttyOut = collect(tty.stdout);
  t.equal((await tty.exit).code, 0, 'tty on a pty exits 0');
  t.match((await ttyOut).toString(), /^\/dev\/pts\/\d+\r\n$/, 'tty names a /dev/pts/N');
  const stty = await c.exec({ argv: ['stty', 'size'], env, pty: { width: 100, height: 30 } });
  const sttyOut = collect(stty.stdout);
  t.equal((await stty.exit).code, 0, 'stty size exits 0');
  t.equal((await sttyOut).toString(), '30 100\r\n', 'the initial size is set');
  t.equal((await collect(stty.stderr)).length, 0, 'a terminal has no separate stderr');
  // A background process left holding the terminal (it ignores the SIGHUP) does not hold up the exit.
  const bg = await c.exec({ argv: ['sh', '-c', 'trap "" HUP; sleep 60 & echo bg=$!'], env, pty: { width: 80, height: 24 } });
  let bgOut = '';
  bg.stdout.on('data', (b: Buffer) => (bgOut += b.toString()));
  let timer: NodeJS.Timeout | undefined;
  const bgCode = await Promise.race([bg.exit.then((e) => e.code), new Promise<string>((r) => (timer = setTimeout(() => r('no exit'), waitMs)))]);
  clearTimeout(timer);
  const bgPid = /bg=(\d+)/.exec(bgOut)?.[1];
  t.equal(bgCode, 0, 'the exit comes back while a background process still holds the terminal');
  if (bgPid) await run(c, ['kill', '-9', bgPid]);
  else t.comment('no background pid seen');

  const target = new AgentExecTarget('default', 'v', root, c);
  t.equal(target.terminals, true, 'the VM exec target offers terminals');
  const cmd = { command: ['sh'], environment: { PATH: '/sbin:/bin:/usr/sbin:/usr/bin', HOME: '/root', TERM: 'xterm' }, cwd: '', user: 0, group: 0 };
  const { process: proc, pty } = await target.pty(cmd, 80, 24);
  let screen = '';
  pty.on('data', (b: Buffer) => (screen += b.toString()));
  const ended = new Promise<void>((r) => pty.once('end', () => r()));
  pty.write('stty size\n');
  t.ok(await until(() => /24 80\r\n/.test(screen), waitMs), `the shell sees 24 80: ${JSON.stringify(screen)}`);
  pty.resize(132, 43);
  // The resize request goes out before the next input on the same connection, so it is in place when stty runs.
  pty.write('stty size\n');
  t.ok(await until(() => /43 132\r\n/.test(screen), waitMs), `after the resize it sees 43 132: ${JSON.stringify(screen)}`);
  pty.write('exit 3\n');
  t.equal(await proc.exited, 3, 'the shell\'s exit code comes back');
  await ended;
  t.pass('the terminal\'s output ended');
  pty.destroy();

  const piped = await c.exec({ argv: ['sleep', '30'], env });
  await t.rejects(c.resize(piped.pid, 80, 24), { code: 400, message: 'No such running command with a terminal' }, 'resize of a command without a pty: 400');
  await t.rejects(c.resize(piped.pid, 0, 24), RangeError, 'a zero width is refused before it is sent');
  await c.signal(piped.pid, 9);
  t.equal((await piped.exit).code, 137, 'killed');
}

/** Whether `pid` still runs (not gone, not a zombie) after up to `ms`. */
async function runningAfter(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? 'gone';
    } catch {
      // gone
    }
    if (state === 'gone' || state === 'Z' || state === 'X') return false;
    if (Date.now() > end) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens a raw connection, sends bytes, and gathers decoded control replies for `ms` (`dec`: to go on where another exchange left off). */
function rawExchange(sock: Socket, bytes: Buffer, ms: number, dec = new FrameDecoder({ expectMagic: true })): Promise<Record<string, unknown>[]> {
  const got: Record<string, unknown>[] = [];
  const onData = (d: Buffer): void => {
    for (const f of dec.push(d)) if (f.channel === 0) got.push(JSON.parse(f.payload.toString()) as Record<string, unknown>);
  };
  sock.on('data', onData);
  sock.write(bytes);
  return new Promise((r) =>
    setTimeout(() => {
      sock.off('data', onData);
      r(got);
    }, ms),
  );
}

t.test('agent on the host over an inherited socket', async (t) => {
  const dir = path.join(root, 'host');
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'agent.secret'), 'host-secret\n');
  const start = (): { proc: ChildProcess; sock: Socket } => {
    const proc = spawn(AGENT, ['--fd', '3', '--secret-file', path.join(dir, 'agent.secret')], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    agents.push(proc);
    return { proc, sock: proc.stdio[3] as Socket };
  };

  const a = start();
  const c = await AgentClient.attach(a.sock, 'host-secret');
  t.equal((await run(c, ['uname', '-r'])).stdout.toString().trim(), os.release(), 'uname -r');
  await commonChecks(t, c);
  await ptyChecks(t, c, 5000);
  c.close();

  // What the agent itself refuses (the client checks sizes before sending, so these go raw).
  const p = start();
  const frame = (o: Record<string, unknown>): Buffer => encodeFrame(0, JSON.stringify(o));
  const helloOk = encodeControl({ id: 1, op: 'hello', secret: 'host-secret' });
  const pDec = new FrameDecoder({ expectMagic: true });
  const started = await rawExchange(p.sock, Buffer.concat([AGENT_MAGIC, helloOk, frame({ id: 2, op: 'exec', argv: ['sleep', '30'], pty: true, width: 80, height: 24 })]), 500, pDec);
  t.same(started.map((r) => [r.id, r.ok, r.pty, 'stderr' in r]), [[1, true, undefined, false], [2, true, true, false]], 'a pty exec reply: pty true, no stderr channel');
  const pid = started[1]?.pid as number;
  const resize = (id: number, o: Record<string, unknown>): Buffer => frame({ id, op: 'resize', pid, ...o });
  const refused = await rawExchange(
    p.sock,
    Buffer.concat([
      resize(3, { width: 0, height: 24 }),
      resize(4, { width: 65536, height: 24 }),
      resize(5, { width: 80.5, height: 24 }),
      resize(6, { width: '80', height: 24 }),
      resize(7, { width: 80 }),
      resize(8, { width: 80, height: 24, pid: process.pid }),
      frame({ id: 9, op: 'exec', argv: ['true'], pty: true, width: -1, height: 24 }),
      frame({ id: 10, op: 'exec', argv: ['true'], width: 80, height: 24 }),
      frame({ id: 11, op: 'exec', argv: ['true'], pty: 'yes' }),
      resize(12, { width: 100, height: 50 }),
    ]),
    500,
    pDec,
  );
  t.same(
    refused.map((r) => [r.id, r.ok === true ? 'ok' : r.code]),
    [[3, 400], [4, 400], [5, 400], [6, 400], [7, 400], [8, 400], [9, 400], [10, 400], [11, 400], [12, 'ok']],
    'bad sizes, a pid not of this session, sizes without pty and a non-boolean pty: 400; a good resize: ok',
  );
  p.sock.destroy();

  // A wrong secret: 403, and the exec queued right behind it is not run.
  const marker = path.join(dir, 'pwned');
  const b = start();
  const replies = await rawExchange(
    b.sock,
    Buffer.concat([AGENT_MAGIC, encodeControl({ id: 1, op: 'hello', secret: 'nope' }), encodeControl({ id: 2, op: 'exec', argv: ['touch', marker] })]),
    500,
  );
  t.same(replies, [{ id: 1, error: 'Forbidden', code: 403 }], 'only the 403 comes back');
  t.notOk(existsSync(marker), 'nothing ran after the failed hello');
  b.sock.destroy();
  await t.rejects(AgentClient.attach(start().sock, 'nope'), new AgentError('Forbidden', 403), 'client rejects with 403');

  // Exec before hello, oversized and malformed frames: a reset each time, the agent survives and still serves.
  const d = start();
  const before = await rawExchange(d.sock, Buffer.concat([AGENT_MAGIC, encodeControl({ id: 2, op: 'exec', argv: ['touch', marker] })]), 300);
  t.same(before, [{ id: 2, error: 'Forbidden', code: 403 }], 'exec as first frame is refused');
  const big = Buffer.alloc(8);
  big.writeUInt32BE(0, 0);
  big.writeUInt32BE(0xfffffff0, 4);
  const hello = encodeControl({ id: 1, op: 'hello', secret: 'host-secret' });
  const bad: [string, Buffer][] = [
    ['a length above the limit', big],
    ['truncated JSON', encodeFrame(0, '{"id":')],
    ['JSON that is not a request', encodeFrame(0, '[1,2]')],
    ['an id that is not a u32', encodeFrame(0, '{"id":1e300,"op":"state"}')],
    ['a string with a NUL in argv', encodeFrame(0, '{"id":5,"op":"exec","argv":["touch\\u0000x"]}')],
  ];
  for (const [what, frame] of bad) {
    const replies = await rawExchange(d.sock, Buffer.concat([AGENT_MAGIC, hello, frame]), 300);
    t.same(
      replies.map((r) => (r.event ? 'reset' : r.ok ? 'ok' : `err:${String(r.code)}`)),
      ['ok', what.includes('NUL') ? 'err:400' : 'reset'],
      `${what}: refused, and the magic resynchronises the next session`,
    );
  }
  // A new magic mid-session drops what the old session queued, then serves the new one.
  const two = await rawExchange(d.sock, Buffer.concat([AGENT_MAGIC, hello, AGENT_MAGIC, encodeControl({ id: 9, op: 'hello', secret: 'host-secret' })]), 300);
  // (The first hello's reply is normally dropped unflushed; it may have gone out if the two arrived in separate reads.)
  t.equal(two.at(-1)?.id, 9, 'the new session\'s hello is answered');
  t.ok(two.every((r) => r.ok === true), 'no reset');
  t.notOk(existsSync(marker), 'still nothing ran');
  d.sock.destroy();
  const f = start();
  const c2 = await AgentClient.attach(f.sock, 'host-secret');
  t.equal((await run(c2, ['true'])).code, 0, 'a fresh session works');
  // Closing the host side ends the session: a long command is killed.
  const sleeper = await c2.exec({ argv: ['sleep', '1000'] });
  c2.close();
  await new Promise<void>((r) => f.proc.once('exit', () => r()));
  t.notOk(await runningAfter(sleeper.pid, 5000), 'the session\'s command was killed with it');

  // Garbage after a good hello: random frames on random channels, random JSON-ish control payloads.
  const g = start();
  const junk: Buffer[] = [AGENT_MAGIC, hello];
  const words = ['{', '}', '[', ']', '"', '\\u', 'd800', ':', ',', 'null', '1e999', '-', '"op"', '"exec"', '"argv"', '"id"', '\0'];
  for (let i = 0; i < 300; i++) {
    const text = Array.from({ length: 1 + (i % 23) }, (_, k) => words[(i * 7 + k * 13) % words.length]).join('');
    junk.push(i % 3 === 0 ? encodeFrame(1 + (i % 5), randomBytes(i % 50)) : encodeFrame(0, text));
    if (i % 50 === 0) junk.push(randomBytes(64));
  }
  g.sock.write(Buffer.concat(junk));
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(g.proc.exitCode, null, 'the agent survives the garbage');
  const gExit = new Promise<[number | null, string | null]>((r) => g.proc.once('exit', (code, sig) => r([code, sig])));
  g.sock.destroy();
  t.same(await gExit, [0, null], 'and exits cleanly when its socket closes');
});

t.test('agent in a TCG VM over virtio-serial', { skip: !haveVm && 'qemu or OVMF missing' }, async (t) => {
  const t0 = Date.now();
  const img = await buildBusyboxVmImage({ outputDir: path.join(root, 'img'), creationDate: 1700000000 });
  t.comment(`image built in ${Date.now() - t0} ms, kernel ${img.kernelVersion}`);
  const dir = path.join(root, 'vm');
  const config = path.join(dir, 'agent-config');
  await fs.mkdir(config, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  await fs.copyFile(SHIPPED_AGENT, path.join(config, 'incus-agent'));
  await fs.chmod(path.join(config, 'incus-agent'), 0o755);
  await fs.writeFile(path.join(config, 'agent.secret'), `${secret}\n`, { mode: 0o600 });
  // What the driver's config share will carry: copy out of the share, then start in the background.
  await fs.writeFile(
    path.join(config, 'install.sh'),
    '#!/bin/sh\nmkdir -p /run/incus_agent\ncp incus-agent agent.secret /run/incus_agent/\ncd /run/incus_agent && ./incus-agent </dev/null >/dev/console 2>&1 &\n',
  );
  const disk = path.join(dir, 'root.qcow2');
  await exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img.disk, disk]);
  const paths = qemuPaths({ runDir: path.join(dir, 'run'), logDir: path.join(dir, 'logs'), configDir: dir });
  const fw = await prepareFirmware(dir, 'generic');
  const launch = buildQemuConfig({
    name: 'agentvm',
    uuid: randomUUID(),
    cpus: 2,
    memoryBytes: 512 * MiB,
    accel: hostAccelerator(),
    firmware: { code: fw.code, nvram: fw.nvram },
    paths,
    drives: [{ id: 'root', file: disk, format: 'qcow2', bus: 'virtio-scsi', bootIndex: 0 }],
    nics: [],
    shares: [{ id: 'config', tag: 'config', protocol: '9p', path: config, readonly: true }],
  });
  const q: QemuProcess = await startQemu({ launch, paths, timeoutMs: 60000 });
  qemus.set(q.pid, paths.pidfile);
  const booted = Date.now();

  let log = '';
  const deadline = Date.now() + 150_000;
  while (!log.includes('incus-agent 0.1: serving') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    log += await q.consoleLog();
  }
  t.match(log, new RegExp(`${AGENT_MARKER} source=9p:config`), 'the guest mounted the config share');
  if (!log.includes('incus-agent 0.1: serving')) {
    t.fail(`agent did not start; console tail: ${log.slice(-2000)}`);
    return;
  }
  t.comment(`agent serving ${Date.now() - booted} ms after QEMU started`);

  await t.rejects(AgentClient.connect(paths.agent, 'not-the-secret', { timeoutMs: 10000 }), { code: 403 }, 'wrong secret: 403');
  // The raw way too: an exec behind a wrong hello must not run.
  const raw = createConnection(paths.agent);
  const replies = await rawExchange(
    raw,
    Buffer.concat([AGENT_MAGIC, encodeControl({ id: 1, op: 'hello', secret: 'nope' }), encodeControl({ id: 2, op: 'exec', argv: ['touch', '/run/pwned'] })]),
    3000,
  );
  t.same(replies, [{ id: 1, error: 'Forbidden', code: 403 }], 'wrong secret: 403 only');
  raw.destroy();

  const c = await AgentClient.connect(paths.agent, secret, { timeoutMs: 10000 });
  const t1 = Date.now();
  const uname = await run(c, ['uname', '-r']);
  t.comment(`exec round trip ${Date.now() - t1} ms under ${hostAccelerator().accel}`);
  t.equal(uname.stdout.toString().trim(), img.kernelVersion, 'uname -r is the guest kernel');
  t.equal((await run(c, ['test', '-e', '/run/pwned'])).code, 1, 'the exec after the wrong secret did not run');
  await commonChecks(t, c);
  await ptyChecks(t, c, 30000);
  t.equal((await c.state()).hostname, 'testvm', 'guest hostname');
  c.close();
  await q.kill();
});
