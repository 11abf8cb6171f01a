/**
 * The migration stream's own websocket framing, against the `ws` library on
 * real local sockets: frames the sender builds decode as `ws` decodes them,
 * and the receiver's direct path yields exactly the payload `ws` would,
 * through fragments, masks, pings and the barrier.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { receiveDirectly, unmask } from '../../../lib/server/migration/frame-receiver';
import { maskInPlace, sendFdAsFrames, socketOf, writeBinaryHeader } from '../../../lib/server/migration/frame-sender';
import { ReadTap } from '../../../lib/server/migration/read-tap';

/** A connected pair on 127.0.0.1, plain or over TLS with a self-signed certificate: [server side, client side]. */
async function wsPair(t: Test, secure = false): Promise<[WebSocket, WebSocket]> {
  let https: ReturnType<typeof createServer> | null = null;
  if (secure) {
    const dir = mkdtempSync(path.join(tmpdir(), 'frames-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=frames'], { stdio: 'ignore' });
    https = createServer({ key: readFileSync(key), cert: readFileSync(cert) });
    await new Promise<void>((r) => https!.listen(0, '127.0.0.1', r));
  }
  const wss = https ? new WebSocketServer({ server: https, perMessageDeflate: false }) : new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  if (!https) await new Promise((r) => wss.once('listening', r));
  const port = ((https ?? wss).address() as AddressInfo).port;
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`${https ? 'wss' : 'ws'}://127.0.0.1:${port}`, { perMessageDeflate: false, rejectUnauthorized: false });
  await new Promise((r) => client.once('open', r));
  const server = await serverSide;
  t.teardown(() => {
    client.terminate();
    server.terminate();
    wss.close();
    https?.close();
  });
  return [server, client];
}

function collector(): { w: Writable; data: () => Buffer } {
  const parts: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 4096,
    write(chunk: Buffer, _enc, cb) {
      parts.push(Buffer.from(chunk));
      setImmediate(cb);
    },
  });
  return { w, data: () => Buffer.concat(parts) };
}

t.test('unmask and maskInPlace agree with byte-wise XOR at any offset and phase', async (t) => {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const src = randomBytes(103);
  for (const offset of [0, 1, 2, 3]) {
    for (const phase of [0, 1, 2, 3]) {
      const b = Buffer.from(src);
      unmask(b, offset, 97, mask, phase);
      const want = Buffer.from(src);
      for (let i = 0; i < 97; i++) want[offset + i] ^= mask[(phase + i) & 3];
      t.same(b, want, `offset ${offset} phase ${phase}`);
    }
  }
  const aligned = Buffer.alloc(64);
  const copy = Buffer.from(src.subarray(0, 40));
  copy.copy(aligned, 16);
  maskInPlace(aligned, 16, 40, mask);
  unmask(aligned, 16, 40, mask, 0);
  t.same(aligned.subarray(16, 56), copy);
});

t.test('headers for short, 16-bit and 64-bit lengths, masked or not, decode in ws', async (t) => {
  const [server, client] = await wsPair(t);
  const sock = (ws: WebSocket): NodeJS.WritableStream => (ws as unknown as { _socket: NodeJS.WritableStream })._socket;
  for (const len of [5, 300, 70_000]) {
    const payload = randomBytes(len);
    for (const [from, to, masked] of [[server, client, false], [client, server, true]] as const) {
      const buf = Buffer.alloc(16 + len);
      payload.copy(buf, 16);
      const mask = masked ? randomBytes(4) : null;
      if (mask) maskInPlace(buf, 16, len, mask);
      const start = writeBinaryHeader(buf, 16, len, mask);
      const got = new Promise<Buffer>((r) => to.once('message', (d: Buffer) => r(d)));
      sock(from).write(buf.subarray(start));
      t.same(await got, payload, `${len} bytes, ${masked ? 'masked' : 'unmasked'}`);
    }
  }
});

t.test('direct receive: fragments, a ping, a masked stream, then the barrier; ws gets what follows', async (t) => {
  const [server, client] = await wsPair(t);
  const parts = [randomBytes(100_000), randomBytes(10), randomBytes(300_000)];
  const { w, data } = collector();
  let seen = 0;
  const done = receiveDirectly(server, w, (n) => (seen += n));
  const pong = new Promise((r) => client.once('pong', r));
  client.send(parts[0], { binary: true, fin: false });
  client.ping(Buffer.from('hi'));
  client.send(parts[1], { binary: true, fin: true });
  client.send(parts[2], { binary: true });
  client.send('', { binary: false });
  const after = new Promise<string>((r) => server.once('message', (d: Buffer) => r(d.toString())));
  client.send('after', { binary: false });
  t.equal(await done, 'barrier');
  await new Promise((r) => w.end(r));
  t.same(data(), Buffer.concat(parts));
  t.equal(seen, 400_010);
  t.equal(await after, 'after');
  await pong;
});

t.test('direct receive hands a text message back to ws, from its first byte', async (t) => {
  const [server, client] = await wsPair(t);
  const { w, data } = collector();
  const done = receiveDirectly(client, w, () => undefined);
  const msg = new Promise<string>((r) => client.once('message', (d: Buffer) => r(d.toString())));
  server.send(Buffer.from('abc'));
  server.send('not a barrier');
  t.equal(await done, 'handed-back');
  t.equal(await msg, 'not a barrier');
  t.same(data(), Buffer.from('abc'));
});

t.test('an fd sent as frames arrives whole, masked from a client, unmasked from a server', async (t) => {
  const [server, client] = await wsPair(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'frames-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [from, to, masked] of [[server, client, false], [client, server, true]] as const) {
    const fifo = path.join(dir, `fifo-${masked}`);
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const payload = randomBytes(3 * 1024 * 1024 + 7);
    const got: Buffer[] = [];
    const onMessage = (d: Buffer): number => got.push(d);
    to.on('message', onMessage);
    const writer = createWriteStream(fifo);
    writer.end(payload);
    t.equal(await sendFdAsFrames(fd, from, masked), payload.length);
    await new Promise((r) => setTimeout(r, 50));
    to.off('message', onMessage);
    t.same(Buffer.concat(got), payload, masked ? 'client to server' : 'server to client');
    t.ok(got.every((b) => b.length <= 1024 * 1024), 'no frame over 1 MiB');
  }
});

t.test('direct receive over TLS into pooled buffers, a slow destination holding them; ws reads on after the barrier', async (t) => {
  const [server, client] = await wsPair(t, true);
  for (const [from, to] of [[server, client], [client, server]] as const) {
    // 12 MiB against a destination that takes 4 KiB per turn: reading pauses and pooled chunks are reused.
    const parts = [randomBytes(5 * 1024 * 1024 + 3), randomBytes(7 * 1024 * 1024)];
    const { w, data } = collector();
    const done = receiveDirectly(to, w, () => undefined);
    t.ok(ReadTap.of(socketOf(to)), 'the TLS socket reads into our buffers');
    from.send(parts[0], { binary: true });
    from.send(parts[1], { binary: true });
    from.send('', { binary: false });
    const after = new Promise<string>((r) => to.once('message', (d: Buffer) => r(d.toString())));
    from.send('after', { binary: false });
    t.equal(await done, 'barrier');
    t.equal(await after, 'after', 'ws gets the message after the stream');
    await new Promise((r) => w.end(r));
    t.ok(data().equals(Buffer.concat(parts)), `${from === server ? 'server to client' : 'client to server (masked)'}: every byte in order`);
  }
  // The same sockets carry a second stream through the tap that stays switched on.
  const again = randomBytes(300_000);
  const { w, data } = collector();
  const done = receiveDirectly(client, w, () => undefined);
  server.send(again, { binary: true });
  server.send('', { binary: false });
  t.equal(await done, 'barrier');
  await new Promise((r) => w.end(r));
  t.ok(data().equals(again), 'a second stream arrives whole');
});

t.test('an fd written in small bursts, each frame sent by the flush timer, arrives whole', async (t) => {
  const [server, client] = await wsPair(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'frames-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const pieces = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
  const got: Buffer[] = [];
  client.on('message', (d: Buffer) => got.push(d));
  const writer = createWriteStream(fifo);
  const sent = sendFdAsFrames(fd, server, false);
  for (const p of pieces) {
    await new Promise<void>((r) => writer.write(p, () => r()));
    // Longer than the flush delay, so that the frame goes before the next read.
    await new Promise((r) => setTimeout(r, 4));
  }
  writer.end();
  t.equal(await sent, pieces.reduce((n, p) => n + p.length, 0));
  await new Promise((r) => setTimeout(r, 50));
  t.ok(Buffer.concat(got).equals(Buffer.concat(pieces)), 'every byte in order');
  t.ok(got.length > 10, `sent in many frames (${got.length})`);
});
