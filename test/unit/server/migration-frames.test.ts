/**
 * The migration stream's own websocket framing, against the `ws` library on
 * real local sockets: frames the sender builds decode as `ws` decodes them,
 * and the receiver's direct path yields exactly the payload `ws` would,
 * through fragments, masks, pings and the barrier.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, mkdtempSync, openSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { receiveDirectly, unmask } from '../../../lib/server/migration/frame-receiver';
import { maskInPlace, sendFdAsFrames, writeBinaryHeader } from '../../../lib/server/migration/frame-sender';

/** A connected pair: [server side, client side]. */
async function wsPair(t: Test): Promise<[WebSocket, WebSocket]> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await new Promise((r) => client.once('open', r));
  const server = await serverSide;
  t.teardown(() => {
    client.terminate();
    server.terminate();
    wss.close();
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
