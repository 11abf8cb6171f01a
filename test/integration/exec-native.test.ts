/**
 * The native pieces of exec on their own, with host processes: ptys
 * (close-on-exec, EOF when the slave side closes, writes that never block
 * the loop, window size), pipes, and the forkexec helper's failure reports.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { PtyMaster, helperPath, makePipe, openPty, setWindowSize } from '../../lib/native';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function fdFlags(fd: number): number {
  const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m ? parseInt(m[1], 8) : -1;
}

/** Starts `sh -c script` on the pty slave, then closes our copy of the slave. */
function onSlave(slave: number, script: string): Promise<number | null> {
  const child = spawn('sh', ['-c', script], { stdio: [slave, slave, slave] });
  closeSync(slave);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

function collect(pty: PtyMaster): Promise<{ text: string; error: Error | null }> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    let error: Error | null = null;
    pty.on('data', (b: Buffer) => chunks.push(b));
    pty.on('error', (e: Error) => (error = e));
    pty.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), error }));
  });
}

t.test('openPty: close-on-exec fds, a non-blocking master, all output then a plain end', async (t) => {
  const pair = openPty({ pid: 0, uid: -1, gid: -1 });
  t.ok(fdFlags(pair.master) & O_CLOEXEC, 'master is CLOEXEC');
  t.ok(fdFlags(pair.slave) & O_CLOEXEC, 'slave is CLOEXEC');
  t.ok(fdFlags(pair.master) & O_NONBLOCK, 'master is non-blocking');
  t.notOk(fdFlags(pair.slave) & O_NONBLOCK, 'slave stays blocking for the command');
  const pty = new PtyMaster(pair.master);
  const out = collect(pty);
  const code = await onSlave(pair.slave, 'tty; seq 1 20000; printf END');
  const { text, error } = await out;
  pty.destroy();
  t.equal(code, 0);
  t.equal(error, null, 'EIO at the end is not an error');
  t.match(text, /^\/dev\/pts\/\d+\r\n1\r\n2\r\n/);
  t.ok(text.endsWith('20000\r\nEND'), 'nothing is lost before the end');
});

t.test('writes to a pty nobody reads never block the event loop', async (t) => {
  const pair = openPty({ pid: 0, uid: -1, gid: -1 });
  const pty: Duplex = new PtyMaster(pair.master);
  pty.resume();
  const exited = onSlave(pair.slave, 'sleep 1');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const big = Buffer.alloc(1024 * 1024, 0x61);
  let written = false;
  pty.write(big, () => (written = true));
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(timer);
  t.ok(ticks >= 20, `the loop kept running while the write waited (${ticks} ticks in 500 ms)`);
  t.equal(written, false, 'the write is still waiting for the reader');
  pty.destroy();
  await exited;
});

t.test('setWindowSize is what the command sees', async (t) => {
  const pair = openPty({ pid: 0, uid: -1, gid: -1 });
  const pty = new PtyMaster(pair.master);
  setWindowSize(pair.master, 100, 33);
  const out = collect(pty);
  await onSlave(pair.slave, 'stty size');
  t.equal((await out).text, '33 100\r\n');
  pty.destroy();
  t.throws(() => setWindowSize(pair.master, 0, 10), RangeError);
});

t.test('makePipe: two close-on-exec ends', async (t) => {
  const [r, w] = makePipe();
  t.ok(fdFlags(r) & O_CLOEXEC);
  t.ok(fdFlags(w) & O_CLOEXEC);
  closeSync(r);
  closeSync(w);
});

t.test('forkexec reports why it could not start on fd 3', async (t) => {
  const run = (args: string[]): Promise<{ code: number | null; report: string }> =>
    new Promise((resolve) => {
      const c = spawn(helperPath(), args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
      let report = '';
      c.stdio[3]?.on('data', (b: Buffer) => (report += b.toString()));
      c.on('close', (code) => resolve({ code, report }));
    });
  const usage = await run(['forkexec', 'c1']);
  t.equal(usage.code, 1);
  t.match(usage.report, /^EINVAL usage: incusd-helper forkexec/);
  const missing = await run(['forkexec', 'no-such-ct', '/nonexistent', '/nonexistent/lxc.conf', '', '0', '0', '--', 'env', '--', 'cmd', 'true']);
  t.equal(missing.code, 1);
  t.match(missing.report, /^E[A-Z]+ /, 'an error line, no pid line');
  t.notMatch(missing.report, /^pid /m);
});
