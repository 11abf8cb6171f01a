/** QMP client framing and correlation against a fake monitor on a Unix socket. */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineReader, QmpClient, QmpError, type QmpEvent } from '../../lib/server/instance/drivers/qemu/qmp';
import { ringbufRead, NotARingbufError } from '../../lib/server/instance/drivers/qemu/qmp-commands';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}\r\n';

type Handler = (sock: Socket, msg: { execute: string; arguments?: Record<string, unknown>; id?: number }) => void;

/** A fake monitor: greets (unless silent), answers qmp_capabilities, hands other commands to `handler`. */
async function fakeMonitor(t: Test, handler: Handler, opts: { silent?: boolean; splitGreeting?: boolean } = {}): Promise<{ path: string; server: Server; sockets: Socket[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'qmp-unit-'));
  const path = join(dir, 'm.sock');
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    if (!opts.silent) {
      if (opts.splitGreeting) {
        sock.write(GREETING.slice(0, 10));
        setTimeout(() => sock.write(GREETING.slice(10)), 20);
      } else sock.write(GREETING);
    }
    const reader = new LineReader((m) => {
      const msg = m as { execute: string; id?: number };
      if (msg.execute === 'qmp_capabilities') sock.write(`{"return": {}, "id": ${msg.id}}\r\n`);
      else handler(sock, msg);
    });
    sock.on('data', (d) => reader.push(d));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, server, sockets };
}

t.test('handshake, version, results and QEMU error desc', async (t) => {
  const { path } = await fakeMonitor(
    t,
    (sock, msg) => {
      if (msg.execute === 'query-status') sock.write(`{"return": {"status": "running", "running": true}, "id": ${msg.id}}\r\n`);
      else sock.write(`{"error": {"class": "CommandNotFound", "desc": "The command ${msg.execute} has not been found"}, "id": ${msg.id}}\r\n`);
    },
    { splitGreeting: true },
  );
  const qmp = await QmpClient.connect(path);
  t.teardown(() => qmp.close());
  t.same(qmp.version, { major: 7, minor: 2, micro: 2, package: 'Debian' });
  t.same(await qmp.execute('query-status'), { status: 'running', running: true });
  const err = await qmp.execute('bogus').catch((e: unknown) => e);
  t.ok(err instanceof QmpError);
  t.equal((err as QmpError).message, 'The command bogus has not been found');
  t.equal((err as QmpError).errorClass, 'CommandNotFound');
});

t.test('answers out of order, several per chunk, split mid-line; events by name', async (t) => {
  const held: Array<{ sock: Socket; id: number; cmd: string }> = [];
  const { path } = await fakeMonitor(t, (sock, msg) => {
    held.push({ sock, id: msg.id as number, cmd: msg.execute });
    if (held.length === 2) {
      // Answer the second first, with an event between, all in one write split in two.
      const out =
        `{"return": "second", "id": ${held[1].id}}\r\n` +
        '{"event": "STOP", "data": {}, "timestamp": {"seconds": 10, "microseconds": 500000}}\r\n' +
        `{"return": "first", "id": ${held[0].id}}\r\n`;
      sock.write(out.slice(0, 25));
      setTimeout(() => sock.write(out.slice(25)), 10);
    }
  });
  const qmp = await QmpClient.connect(path);
  t.teardown(() => qmp.close());
  const events: QmpEvent[] = [];
  qmp.on('STOP', (e: QmpEvent) => events.push(e));
  const [a, b] = await Promise.all([qmp.execute('one'), qmp.execute('two')]);
  t.equal(a, 'first');
  t.equal(b, 'second');
  t.equal(events.length, 1);
  t.equal(events[0].timestamp, 10.5);
});

t.test('a command with no answer rejects after its timeout; the client still works', async (t) => {
  const { path } = await fakeMonitor(t, (sock, msg) => {
    if (msg.execute === 'echo') sock.write(`{"return": ${JSON.stringify(msg.arguments)}, "id": ${msg.id}}\r\n`);
  });
  const qmp = await QmpClient.connect(path, { commandTimeoutMs: 150 });
  t.teardown(() => qmp.close());
  const start = Date.now();
  await t.rejects(qmp.execute('hang'), /QMP command hang got no answer within 150ms/);
  t.ok(Date.now() - start < 2000);
  t.same(await qmp.execute('echo', { x: 1 }), { x: 1 });
});

t.test('a silent monitor (another client holds it) fails the connect by its deadline', async (t) => {
  const { path } = await fakeMonitor(t, () => undefined, { silent: true });
  await t.rejects(QmpClient.connect(path, { timeoutMs: 200 }), /timed out after 200ms/);
});

t.test('no socket: a clear connect error', async (t) => {
  await t.rejects(QmpClient.connect('/nonexistent/qmp.sock', { timeoutMs: 500 }), /Failed to connect to QMP socket \/nonexistent\/qmp.sock/);
});

t.test('the peer closing rejects pending commands and emits close', async (t) => {
  const { path } = await fakeMonitor(t, (sock) => sock.destroy());
  const qmp = await QmpClient.connect(path);
  let closed = false;
  qmp.on('close', () => (closed = true));
  await t.rejects(qmp.execute('anything'), /QMP connection closed before an answer/);
  await qmp.closed;
  t.ok(closed);
  t.notOk(qmp.isOpen);
  await t.rejects(qmp.execute('after'), /QMP connection closed/);
});

t.test('ringbuf-read drains until empty; a socket-backed console is refused', async (t) => {
  const chunks = ['hello ', 'world', ''];
  let backend = 'ringbuf';
  const { path } = await fakeMonitor(t, (sock, msg) => {
    if (msg.execute === 'query-chardev') {
      sock.write(`${JSON.stringify({ return: [{ label: 'console', filename: backend, 'frontend-open': true }], id: msg.id })}\r\n`);
    } else if (msg.execute === 'ringbuf-read') {
      sock.write(`${JSON.stringify({ return: chunks.shift() ?? '', id: msg.id })}\r\n`);
    }
  });
  const qmp = await QmpClient.connect(path);
  t.teardown(() => qmp.close());
  t.equal(await ringbufRead(qmp), 'hello world');
  backend = 'unix:/x/qemu.console,server=on';
  await t.rejects(ringbufRead(qmp), NotARingbufError);
  await t.rejects(ringbufRead(qmp, 'nope'), /Specified qemu device "nope" doesn't exist/);
});

t.test('line reader rejects garbage', async (t) => {
  const r = new LineReader(() => undefined);
  t.throws(() => r.push('not json\n'), /Malformed QMP message/);
  t.throws(() => new LineReader(() => undefined).push('[1,2]\n'), /Malformed QMP message/);
});
