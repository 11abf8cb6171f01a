/**
 * The HTTP layer under hostile clients: every error fastify or Node's parser
 * raises comes in Incus's envelope; a request body that stops arriving is
 * dropped after the idle timeout (INCUS_HTTP_IDLE_TIMEOUT, 2 s here) and its
 * descriptors freed, while long polls, slow-but-flowing uploads and
 * websockets live on; an image upload killed mid-way leaves no partial file
 * and does not take the daemon down; leftovers from a crash are removed at
 * start and reported (then removed) by `admin recover`.
 */
import t, { type Test } from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { type TestDaemon, withDaemon } from '../lib/daemon';
import { rawRequest } from '../lib/http';
import { exchange, fdCount, stall } from './lib/raw-socket';

process.env.INCUS_HTTP_IDLE_TIMEOUT = '2';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const uploads = (d: TestDaemon): string[] => readdirSync(join(d.dir, 'images')).filter((n) => n.startsWith('upload-'));

let shared: Promise<TestDaemon> | null = null;
const daemon = (): Promise<TestDaemon> => (shared ??= withDaemon(t));

function envelope(t: Test, a: { status: number; json: Record<string, unknown> | null; body: string }, status: number, what: string): void {
  t.equal(a.status, status, `${what}: status`);
  t.match(a.json, { type: 'error', error_code: status, error: String }, `${what}: Incus's error envelope (${a.body.slice(0, 160)})`);
}

t.test("errors raised before any route runs come in Incus's envelope", async (t) => {
  const d = await daemon();
  const req = (head: string, body = ''): string => `${head}\r\nHost: x\r\nConnection: close\r\n\r\n${body}`;
  envelope(t, await exchange(d.socket, req('POST /1.0/profiles HTTP/1.1\r\nContent-Length: -1')), 400, 'Content-Length: -1');
  envelope(t, await exchange(d.socket, req('POST /1.0/profiles HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked')), 400, 'Content-Length with chunked');
  envelope(t, await exchange(d.socket, req(`GET /1.0 HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`)), 431, 'headers too large');
  envelope(t, await exchange(d.socket, req('GET /1.0/instances/%E0%A4%A HTTP/1.1')), 400, 'undecodable URL');
  envelope(t, await exchange(d.socket, req(`GET /1.0/instances/${'a'.repeat(2000)} HTTP/1.1`)), 400, 'path parameter over the length limit');
  envelope(t, await exchange(d.socket, req('GET /1.0/nothing HTTP/1.1')), 404, 'unknown route');
  envelope(t, await exchange(d.socket, req('TRACE /1.0 HTTP/1.1')), 404, 'unknown method');
  envelope(t, await exchange(d.socket, req('POST /1.0/profiles HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100000000', '{')), 413, 'body over the limit');
  envelope(t, await exchange(d.socket, req('POST /1.0/profiles HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 5', '{"a":')), 400, 'malformed JSON');
  envelope(t, await exchange(d.socket, req('POST /1.0/profiles/default HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2', '[]')), 400, 'an array for an object');
  envelope(t, await exchange(d.socket, req('POST /1.0/instances/x/snapshots HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 17', '{"expires_at":42}')), 400, 'wrong type in a route without inline schema');
  t.equal((await rawRequest(d.socket, 'GET', '/1.0')).status, 200, 'the daemon still answers');
});

t.test('stalled request bodies are dropped after the idle timeout; flowing ones, long polls and websockets are not', async (t) => {
  const d = await daemon();
  await rawRequest(d.socket, 'GET', '/1.0');
  const baseline = fdCount(d.pid);
  const stalled: Socket[] = [];
  let closed = 0;
  const partialBody = 'POST /1.0/profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":';
  for (let i = 0; i < 200; i++) stalled.push(await stall(d.socket, partialBody));
  // Connections that never finish their headers.
  for (let i = 0; i < 20; i++) stalled.push(await stall(d.socket, 'GET /1.0 HTTP/1.1\r\nHost: x\r\n'));
  for (const s of stalled) {
    s.on('close', () => closed++);
    // Read what the server says (a 408 for the header stallers) so that its close is seen.
    s.resume();
  }
  await sleep(300);
  t.ok(fdCount(d.pid) >= baseline + 150, `the stalled connections hold descriptors (${baseline} -> ${fdCount(d.pid)})`);
  await until('stalled connections to be closed', () => closed === stalled.length, 15_000).catch((e: Error) => t.fail(`${e.message}: ${closed} of ${stalled.length} closed`));
  t.equal(closed, stalled.length, 'every stalled client had its socket closed');
  await until('descriptors to come back', () => fdCount(d.pid) <= baseline + 10, 5_000);
  t.ok(fdCount(d.pid) <= baseline + 10, `descriptors back near the baseline (${baseline} -> ${fdCount(d.pid)})`);

  // An upload that keeps flowing, slower than the timeout in total, is not cut.
  const chunk = 'x'.repeat(1000);
  const slow = await stall(d.socket, `POST /1.0/images HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: ${chunk.length * 12}\r\n\r\n`);
  let answer = '';
  slow.on('data', (b: Buffer) => (answer += b.toString()));
  const slowClosed = new Promise((r) => slow.on('close', r));
  for (let i = 0; i < 12; i++) {
    slow.write(chunk);
    await sleep(400);
  }
  await slowClosed;
  t.match(answer, /^HTTP\/1\.1 4\d\d /, `a 4.8 s upload sent in 400 ms steps got an answer (${answer.split('\r\n')[0]})`);

  // A websocket (events) idle past the timeout stays open.
  const ws = await stall(d.socket, 'GET /1.0/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  let wsHead = '';
  let wsClosed = false;
  ws.on('data', (b: Buffer) => (wsHead += b.toString()));
  ws.on('close', () => (wsClosed = true));
  await sleep(4500);
  t.match(wsHead, /^HTTP\/1\.1 101 /, 'events websocket upgraded');
  t.notOk(wsClosed, 'and still open after 4.5 s of silence');
  ws.destroy();

  // A long poll on an operation that outlasts the timeout.
  t.equal((await d.cli(['launch', 'busybox', 'w1'])).code, 0, 'launch w1');
  t.teardown(() => d.cli(['delete', '-f', 'w1']));
  const op = await rawRequest(d.socket, 'POST', '/1.0/instances/w1/exec', JSON.stringify({ command: ['sleep', '5'], 'wait-for-websocket': false, interactive: false }));
  t.equal(op.status, 202, 'exec sleep 5 started');
  const started = Date.now();
  const waited = await rawRequest(d.socket, 'GET', `${op.body.operation as string}/wait?timeout=30`);
  t.equal(waited.status, 200, 'the long poll answered');
  t.equal((waited.body.metadata as { status?: string }).status, 'Success', 'with the finished operation');
  t.ok(Date.now() - started >= 3500, `after waiting ${Date.now() - started} ms`);
});

t.test('an image upload killed mid-way leaves no partial file and the daemon lives', async (t) => {
  const d = await daemon();
  const big = Buffer.alloc(1 << 20, 1);
  // Unified tarball upload.
  const one = await stall(d.socket, `POST /1.0/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${10 << 20}\r\n\r\n`);
  one.write(big);
  await until('the unified upload file', () => uploads(d).length > 0, 5_000);
  one.destroy();
  await until('the unified upload file to go', () => uploads(d).length === 0, 5_000);
  t.same(uploads(d), [], 'unified upload: nothing left under images/');

  // Split (multipart) upload killed inside its rootfs part.
  const b = 'advboundary';
  const head =
    `--${b}\r\nContent-Disposition: form-data; name="metadata"; filename="meta.tar"\r\nContent-Type: application/octet-stream\r\n\r\n${'m'.repeat(512)}\r\n` +
    `--${b}\r\nContent-Disposition: form-data; name="rootfs"; filename="rootfs.squashfs"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const two = await stall(d.socket, `POST /1.0/images HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${b}\r\nContent-Length: ${10 << 20}\r\n\r\n${head}`);
  two.write(big);
  await until('the split upload files', () => uploads(d).length === 2, 5_000);
  two.destroy();
  await until('the split upload files to go', () => uploads(d).length === 0, 5_000);
  t.same(uploads(d), [], 'split upload: nothing left under images/');
  await sleep(200);
  t.equal(d.proc?.exitCode, null, 'the daemon is still running');
  t.equal((await rawRequest(d.socket, 'GET', '/1.0')).status, 200, 'and answers');

  // A client that stalls mid-upload is dropped at the idle timeout, and its file goes too.
  const three = await stall(d.socket, `POST /1.0/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${10 << 20}\r\n\r\n`);
  three.on('error', () => undefined);
  three.write(big);
  await until('the stalled upload file', () => uploads(d).length > 0, 5_000);
  await until('the stalled upload to be dropped and its file removed', () => uploads(d).length === 0, 10_000);
  t.same(uploads(d), [], 'stalled upload: nothing left under images/');
  three.destroy();
});

t.test('partial uploads left by a crash: removed at start, reported and removed by admin recover', async (t) => {
  const d = await daemon();
  const leftover = join(d.dir, 'images', 'upload-00000000-0000-4000-8000-00000000dead');
  writeFileSync(leftover, 'partial');
  const v = await rawRequest(d.socket, 'POST', '/internal/recover/validate', '{"pools":[]}');
  t.same((v.body.metadata as { partial_uploads: string[] }).partial_uploads, [leftover.split('/').pop()], 'validate reports it');
  const cli = await d.cli(['admin', 'recover'], 'no\nyes\nno\n');
  t.match(cli.stdout, /partial image uploads.*\n - upload-00000000-0000-4000-8000-00000000dead/, 'admin recover lists it');
  t.ok(existsSync(leftover), 'answering no keeps it');
  const imp = await rawRequest(d.socket, 'POST', '/internal/recover/import', '{"pools":[]}');
  t.same((imp.body.metadata as { removed_partial_uploads: string[] }).removed_partial_uploads, [leftover.split('/').pop()], 'import removes it');
  t.notOk(existsSync(leftover), 'gone from disk');

  writeFileSync(leftover, 'partial');
  writeFileSync(join(d.dir, 'images', 'upload-00000000-0000-4000-8000-00000000beef-rootfs'), 'partial');
  await d.signal('SIGTERM');
  await d.start();
  t.same(uploads(d), [], 'a restart removes leftover uploads');
  const bad = await rawRequest(d.socket, 'POST', '/internal/recover/validate', '{"pools":[{"name":".."}]}');
  t.equal(bad.status, 400, `recover refuses a pool named ".." (${bad.body.error as string})`);
});
