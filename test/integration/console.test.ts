/**
 * The instance console against a real daemon and container: bytes both ways
 * through the websocket, one session at a time (force takes over), the
 * console log (ring buffer while running, file once stopped), the CLI, the
 * error cases, and no fd left behind in the daemon.
 */
import t from 'tap';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RawData, WebSocket } from 'ws';
import { attachConsole, clearConsoleLog, getConsoleLog, type ConsoleAttachment } from '../../lib/client/console';
import { ApiError } from '../../lib/client/errors';
import { type TestDaemon, ROOT, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

/** Runs a shell script inside the container through lxc-attach (exec may not exist yet). */
function inContainer(d: TestDaemon, name: string, script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('lxc-attach', ['-P', join(d.dir, 'containers'), '-n', name, '--', 'sh', '-c', script], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => resolve(code ?? -1));
  });
}

/** Everything the data socket delivers, as text. */
function collect(ws: WebSocket): { text: () => string } {
  let buf = '';
  ws.on('message', (m: RawData, isBinary: boolean) => {
    if (isBinary) buf += (m as Buffer).toString('utf8');
  });
  return { text: () => buf };
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === ws.CLOSED ? Promise.resolve() : new Promise((r) => ws.once('close', () => r()));
}

/** Detaches as the CLI does (closing the control socket) and waits for the operation to end. */
async function detach(att: ConsoleAttachment): Promise<void> {
  att.control.close(1000, 'Detaching from console');
  await att.operation.wait();
  await closed(att.data);
}

/**
 * The pty slaves the container's monitor (init's parent) holds, as
 * /proc/PID/fd/N paths: the link text alone cannot tell the container's
 * devpts from the host's.
 */
function monitorPts(initPid: number): Set<string> {
  const ppid = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${initPid}/status`, 'utf8'))?.[1];
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${ppid}/fd`)) {
    try {
      if (/^\/dev\/pts\/\d+$/.test(readlinkSync(`/proc/${ppid}/fd/${fd}`))) out.add(`/proc/${ppid}/fd/${fd}`);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/** `stty size` of a pty slave, as "rows cols". */
function sttySize(pts: string): string {
  return spawnSync('stty', ['-F', pts, 'size'], { encoding: 'utf8' }).stdout.trim();
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

t.test('console', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0, 'launch c1');

  await t.test('output and input round trip through the websocket', async (t) => {
    const initPid = (await d.client.getInstanceState('c1')).pid;
    const ptsBefore = monitorPts(initPid);
    const att = await attachConsole(d.client, 'c1', { width: 100, height: 30 });
    t.teardown(() => att.control.terminate());
    t.equal(att.operation.data.class, 'websocket');
    t.same(Object.keys(att.operation.data.metadata?.fds as object).sort(), ['0', 'control'], 'fds 0 and control');
    const out = collect(att.data);
    const writer = inContainer(d, 'c1', 'echo ready-for-input > /dev/console; read x </dev/console; echo "got:$x" > /dev/console');
    await waitFor('the ready line', () => out.text().includes('ready-for-input'));
    att.data.send(Buffer.from('hello-from-ws\n'), { binary: true });
    await waitFor('the echoed input', () => out.text().includes('got:hello-from-ws'));
    t.equal(await writer, 0, 'the reader in the container exited 0');
    t.match(out.text(), /ready-for-input\r\n/, 'output arrives as the console wrote it (one CR per line)');
    // The proxy pty the monitor holds for this session carries the window size.
    const proxy = [...monitorPts(initPid)].filter((p) => !ptsBefore.has(p));
    t.equal(proxy.length, 1, `one new pty in the monitor: ${proxy.join(' ')}`);
    t.equal(sttySize(proxy[0]!), '30 100', 'the size from the request');
    att.control.send(JSON.stringify({ command: 'window-resize', args: { width: '120', height: '40' } }));
    await waitFor('the resize', () => sttySize(proxy[0]!) === '40 120');
    await inContainer(d, 'c1', 'echo after-resize > /dev/console');
    await waitFor('output after the resize', () => out.text().includes('after-resize'));
    await detach(att);
    const op = await att.operation.refresh();
    t.equal(op.status, 'Success', 'detaching ends the operation with Success');
  });

  await t.test('the fds a session opens in the daemon are close-on-exec', async (t) => {
    const before = new Set(readdirSync(`/proc/${d.pid}/fd`));
    const att = await attachConsole(d.client, 'c1', {});
    t.teardown(() => att.control.terminate());
    const out = collect(att.data);
    await inContainer(d, 'c1', 'echo attached > /dev/console');
    await waitFor('output', () => out.text().includes('attached'));
    const fresh = readdirSync(`/proc/${d.pid}/fd`).filter((fd) => !before.has(fd));
    const targets = fresh.map((fd) => {
      try {
        return readlinkSync(`/proc/${d.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    t.ok(targets.includes('/dev/ptmx'), 'the daemon holds the console pty master');
    t.ok(targets.some((l) => l.startsWith('socket:')), 'and sockets (command socket, websockets)');
    for (const fd of fresh) {
      let info: string;
      try {
        info = readFileSync(`/proc/${d.pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      const flags = /^flags:\s+(\d+)/m.exec(info)?.[1] ?? '0';
      t.ok((Number.parseInt(flags, 8) & 0o2000000) !== 0, `fd ${fd} has O_CLOEXEC`);
    }
    await detach(att);
  });

  await t.test('one session at a time; force takes the console over', async (t) => {
    const a = await attachConsole(d.client, 'c1', {});
    t.teardown(() => a.control.terminate());
    const aOut = collect(a.data);
    await inContainer(d, 'c1', 'echo first-session > /dev/console');
    await waitFor('the first session', () => aOut.text().includes('first-session'));

    const refused = await attachConsole(d.client, 'c1', {}).catch((e: unknown) => e);
    t.ok(refused instanceof ApiError, 'a second attach is refused');
    t.equal((refused as ApiError).status, 409);
    t.equal((refused as ApiError).message, 'This console is already connected. Force is required to take it over.');

    const b = await attachConsole(d.client, 'c1', { force: true });
    t.teardown(() => b.control.terminate());
    await closed(a.data);
    t.pass('the first session was closed by the takeover');
    t.equal((await a.operation.wait()).status, 'Success', 'the first operation ended');
    const bOut = collect(b.data);
    const writer = inContainer(d, 'c1', 'echo second-ready > /dev/console; read x </dev/console; echo "second:$x" > /dev/console');
    await waitFor('the second session output', () => bOut.text().includes('second-ready'));
    b.data.send(Buffer.from('typed\n'), { binary: true });
    await waitFor('input through the second session', () => bOut.text().includes('second:typed'));
    await writer;
    await detach(b);
  });

  await t.test('console log: ring buffer while running', async (t) => {
    await inContainer(d, 'c1', 'echo log-line-one > /dev/console');
    const log = (await getConsoleLog(d.client, 'c1')).toString();
    t.match(log, /log-line-one/, 'GET /console returns what was written');
    const res = await d.client.transport.request({ method: 'GET', path: '/1.0/instances/c1/console' });
    t.equal(res.headers['content-type'], 'application/octet-stream');

    await inContainer(d, 'c1', 'echo log-line-two > /dev/console');
    const cli = await d.cli(['console', 'c1', '--show-log']);
    t.equal(cli.code, 0, cli.stderr);
    t.match(cli.stdout, /log-line-two/, 'incus console --show-log prints it');

    await inContainer(d, 'c1', 'echo log-line-three > /dev/console');
    await clearConsoleLog(d.client, 'c1');
    t.notMatch((await getConsoleLog(d.client, 'c1')).toString(), /log-line-three/, 'DELETE cleared the ring buffer');
  });

  await t.test('the CLI attaches, shows output and detaches on ctrl+a q', async (t) => {
    const cli: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin', 'incus'), 'console', 'c1'], {
      env: { ...process.env, ...d.cliEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    cli.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    cli.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number>((r) => cli.on('exit', (code) => r(code ?? -1)));
    await waitFor('the detach hint', () => out.includes('To detach from the console, press: <ctrl>+a q'));
    const writer = inContainer(d, 'c1', 'echo cli-ready > /dev/console; read x </dev/console; echo "cli-got:$x" > /dev/console');
    await waitFor('output in the CLI', () => out.includes('cli-ready'));
    cli.stdin!.write('from-cli\r');
    await waitFor('input from the CLI', () => out.includes('cli-got:from-cli'));
    await writer;
    cli.stdin!.write('\x01q');
    t.equal(await exited, 0, `the CLI exits 0 after detaching (stderr: ${err})`);
  });

  await t.test('errors', async (t) => {
    const post = (name: string, body: unknown) => rawRequest(d.socket, 'POST', `/1.0/instances/${name}/console`, JSON.stringify(body));
    const missing = await post('nope', {});
    t.equal(missing.status, 404, 'unknown instance: 404');
    t.equal(missing.body.error, 'Instance not found');
    const vga = await post('c1', { type: 'vga' });
    t.equal(vga.status, 400);
    t.equal(vga.body.error, 'VGA console is only supported by virtual machines');
    const bad = await post('c1', { type: 'serial' });
    t.equal(bad.status, 400);
    t.equal(bad.body.error, 'Unknown console type "serial"');
    const cliVga = await d.cli(['console', 'c1', '--type', 'vga']);
    t.equal(cliVga.code, 1);
    t.match(cliVga.stderr, /Error: VGA console is only supported by virtual machines/);
    t.equal((await rawRequest(d.socket, 'GET', '/1.0/instances/nope/console')).status, 404);
    t.equal((await rawRequest(d.socket, 'DELETE', '/1.0/instances/nope/console')).status, 404);

    t.equal((await d.cli(['freeze', 'c1'])).code, 0, 'freeze');
    const frozen = await post('c1', {});
    t.equal(frozen.status, 400);
    t.equal(frozen.body.error, 'Instance is frozen');
    t.equal((await d.cli(['unfreeze', 'c1'])).code, 0, 'unfreeze');
  });

  await t.test('no fds left in the daemon after many sessions', async (t) => {
    // One session first, so that lazily opened daemon fds are already there.
    await detach(await attachConsole(d.client, 'c1', {}));
    await new Promise((r) => setTimeout(r, 200));
    const before = fdCount(d.pid);
    for (let i = 0; i < 25; i++) {
      const att = await attachConsole(d.client, 'c1', {});
      const out = collect(att.data);
      await inContainer(d, 'c1', `echo round-${i} > /dev/console`);
      await waitFor(`round ${i}`, () => out.text().includes(`round-${i}`));
      await detach(att);
    }
    await new Promise((r) => setTimeout(r, 200));
    // Slack for keep-alive HTTP connections; a leak of even one fd per session shows as +25.
    const after = fdCount(d.pid);
    t.ok(after <= before + 2, `daemon fds: ${before} before, ${after} after 25 sessions`);
  });

  await t.test('a session ends when the container stops; then the log comes from the file', async (t) => {
    const att = await attachConsole(d.client, 'c1', {});
    t.teardown(() => att.control.terminate());
    await inContainer(d, 'c1', 'echo before-stop > /dev/console');
    t.equal((await d.cli(['stop', '-f', 'c1'])).code, 0, 'stop');
    await closed(att.data);
    await att.operation.wait();
    t.pass('the data socket closed and the operation ended');

    t.match((await getConsoleLog(d.client, 'c1')).toString(), /before-stop/, 'stopped: the log file is served');
    const notRunning = await rawRequest(d.socket, 'POST', '/1.0/instances/c1/console', '{}');
    t.equal(notRunning.status, 400, 'stopped instance: 400');
    t.equal(notRunning.body.error, 'Instance is not running');
    await clearConsoleLog(d.client, 'c1');
    t.equal((await getConsoleLog(d.client, 'c1')).length, 0, 'DELETE truncated the log file');
  });
});
