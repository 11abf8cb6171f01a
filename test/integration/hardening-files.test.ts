/**
 * The files API under hostile or broken clients, against a real daemon and
 * container: an upload cut short (Content-Length announced, fewer bytes
 * sent, connection dropped) leaves the existing file intact and no
 * temporary file behind; a completed overwrite keeps the old owner and
 * mode, writes through a symlink and leaves it a symlink; append still
 * appends in place; DELETE of the root directory is a 400. Over SFTP, a
 * truncating open does not destroy the old content before CLOSE.
 */
import t from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import { InstanceFiles } from '../../lib/client/files';
import { SftpSession } from '../../lib/client/sftp';
import { type TestDaemon, withDaemon } from './lib/daemon';

/** The handle-level calls of ssh2's SFTP client, which our typed wrapper does not expose. */
interface RawSftp {
  open(path: string, flags: string, cb: (err: Error | undefined, handle: Buffer) => void): void;
  write(handle: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: (err?: Error) => void): void;
  close(handle: Buffer, cb: (err?: Error) => void): void;
}

function sftpOpen(raw: RawSftp, path: string, flags: string): Promise<Buffer> {
  return new Promise((resolve, reject) => raw.open(path, flags, (e, h) => (e ? reject(e) : resolve(h))));
}

function sftpWrite(raw: RawSftp, h: Buffer, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => raw.write(h, b, 0, b.length, 0, (e) => (e ? reject(e) : resolve())));
}

function sftpClose(raw: RawSftp, h: Buffer): Promise<void> {
  return new Promise((resolve, reject) => raw.close(h, (e) => (e ? reject(e) : resolve())));
}

const url = (name: string, p: string): string => `/1.0/instances/${name}/files?path=${encodeURIComponent(p)}`;

/** A request through the daemon's socket; the body is returned as text. */
function request(d: TestDaemon, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends an upload's headers claiming `claimed` bytes, then `sent` bytes, then drops the connection. */
async function truncatedUpload(d: TestDaemon, path: string, claimed: number, sent: number): Promise<void> {
  const sock = net.connect(d.socket);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.on('error', () => undefined);
  sock.write(`POST ${path} HTTP/1.1\r\nHost: incus\r\nContent-Type: application/octet-stream\r\nContent-Length: ${claimed}\r\n\r\n`);
  sock.write(Buffer.alloc(sent, 0x78));
  // Long enough for the daemon to open its file and write what came.
  await new Promise((r) => setTimeout(r, 500));
  sock.destroy();
}

/** Names in a container directory (hidden ones included), through the API. */
async function listing(d: TestDaemon, dir: string): Promise<string[]> {
  const r = await request(d, 'GET', url('c1', dir));
  return (JSON.parse(r.body) as { metadata: string[] }).metadata;
}

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

t.test('files hardening', async (t) => {
  const d = await withDaemon(t);
  const launch = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(launch.code, 0, launch.stderr);
  const mk = await request(d, 'POST', url('c1', '/root/up'), { 'X-Incus-type': 'directory' });
  t.equal(mk.status, 200, mk.body);

  t.test('an upload cut short leaves the existing file intact and no temporary file', async (t) => {
    const put = await request(d, 'POST', url('c1', '/root/up/keep'), { 'X-Incus-mode': '0640', 'X-Incus-uid': '1000', 'X-Incus-gid': '1001' }, 'original\n');
    t.equal(put.status, 200, put.body);
    await truncatedUpload(d, url('c1', '/root/up/keep'), 1_000_000, 100);
    // The daemon notices the drop asynchronously: give it time to clean up.
    t.ok(await waitFor(async () => (await listing(d, '/root/up')).length === 1), 'only the original file is in the directory');
    t.same(await listing(d, '/root/up'), ['keep']);
    const got = await request(d, 'GET', url('c1', '/root/up/keep'));
    t.equal(got.body, 'original\n', 'content unchanged');
    t.same([got.headers['x-incus-mode'], got.headers['x-incus-uid'], got.headers['x-incus-gid']], ['0640', '1000', '1001'], 'owner and mode unchanged');

    await truncatedUpload(d, url('c1', '/root/up/new'), 1_000_000, 100);
    t.ok(await waitFor(async () => (await listing(d, '/root/up')).length === 1), 'a new file cut short is not created');
    t.equal((await request(d, 'HEAD', url('c1', '/root/up/new'))).status, 404);
  });

  t.test('a completed overwrite keeps owner and mode when no headers say otherwise', async (t) => {
    const put = await request(d, 'POST', url('c1', '/root/up/keep'), {}, 'second\n');
    t.equal(put.status, 200, put.body);
    const got = await request(d, 'GET', url('c1', '/root/up/keep'));
    t.equal(got.body, 'second\n');
    t.same([got.headers['x-incus-mode'], got.headers['x-incus-uid'], got.headers['x-incus-gid']], ['0640', '1000', '1001']);
    // As Incus: headers only apply to a file the push creates.
    const put2 = await request(d, 'POST', url('c1', '/root/up/keep'), { 'X-Incus-mode': '0600', 'X-Incus-uid': '0' }, 'third\n');
    t.equal(put2.status, 200, put2.body);
    const got2 = await request(d, 'GET', url('c1', '/root/up/keep'));
    t.equal(got2.body, 'third\n');
    t.same([got2.headers['x-incus-mode'], got2.headers['x-incus-uid']], ['0640', '1000']);
    t.same(await listing(d, '/root/up'), ['keep'], 'no temporary file left');
  });

  t.test('a new file gets the mode and owner of the headers', async (t) => {
    const put = await request(d, 'POST', url('c1', '/root/up/fresh'), { 'X-Incus-mode': '0604', 'X-Incus-uid': '7', 'X-Incus-gid': '8' }, 'new\n');
    t.equal(put.status, 200, put.body);
    const got = await request(d, 'GET', url('c1', '/root/up/fresh'));
    t.same([got.body, got.headers['x-incus-mode'], got.headers['x-incus-uid'], got.headers['x-incus-gid']], ['new\n', '0604', '7', '8']);
  });

  t.test('an overwrite through a symlink writes its target and keeps the link', async (t) => {
    t.equal((await request(d, 'POST', url('c1', '/root/up/link'), { 'X-Incus-type': 'symlink' }, 'keep')).status, 200);
    const put = await request(d, 'POST', url('c1', '/root/up/link'), {}, 'via link\n');
    t.equal(put.status, 200, put.body);
    const link = await request(d, 'HEAD', url('c1', '/root/up/link'));
    t.equal(link.headers['x-incus-type'], 'symlink', 'still a symlink');
    t.equal((await request(d, 'GET', url('c1', '/root/up/keep'))).body, 'via link\n', 'the target has the new content');
  });

  t.test('append still appends in place', async (t) => {
    const put = await request(d, 'POST', url('c1', '/root/up/keep'), { 'X-Incus-write': 'append' }, 'more\n');
    t.equal(put.status, 200, put.body);
    t.equal((await request(d, 'GET', url('c1', '/root/up/keep'))).body, 'via link\nmore\n');
  });

  t.test('SFTP: a truncating open keeps the old content until CLOSE', async (t) => {
    const files = new InstanceFiles(d.client);
    t.teardown(() => files.close());
    const put = await request(d, 'POST', url('c1', '/root/up/sftp'), { 'X-Incus-mode': '0620', 'X-Incus-uid': '3' }, 'sftp original\n');
    t.equal(put.status, 200, put.body);
    const s1 = await SftpSession.open(files, 'c1');
    const raw1 = s1.raw as unknown as RawSftp;
    const h1 = await sftpOpen(raw1, '/root/up/sftp', 'w');
    await sftpWrite(raw1, h1, Buffer.from('partial'));
    t.equal((await request(d, 'GET', url('c1', '/root/up/sftp'))).body, 'sftp original\n', 'old content while the upload is open');
    // The client goes away without CLOSE.
    s1.close();
    t.ok(await waitFor(async () => !(await listing(d, '/root/up')).some((n) => n.startsWith('.incus-push-'))), 'the temporary file is removed');
    t.equal((await request(d, 'GET', url('c1', '/root/up/sftp'))).body, 'sftp original\n', 'old content after the drop');

    const s2 = await SftpSession.open(files, 'c1');
    t.teardown(() => s2.close());
    const raw2 = s2.raw as unknown as RawSftp;
    const h2 = await sftpOpen(raw2, '/root/up/sftp', 'w');
    await sftpWrite(raw2, h2, Buffer.from('sftp new\n'));
    await sftpClose(raw2, h2);
    const got = await request(d, 'GET', url('c1', '/root/up/sftp'));
    t.same([got.body, got.headers['x-incus-mode'], got.headers['x-incus-uid']], ['sftp new\n', '0620', '3'], 'CLOSE puts the new content in place, owner and mode kept');
    t.notOk((await listing(d, '/root/up')).some((n) => n.startsWith('.incus-push-')), 'no temporary file left');
  });

  t.test('DELETE of the root directory is a 400', async (t) => {
    for (const p of ['/', '/.', '//', '/..']) {
      const r = await request(d, 'DELETE', url('c1', p));
      t.equal(r.status, 400, `${p}: ${r.body}`);
      t.equal(JSON.parse(r.body).error_code, 400);
    }
    t.equal((await request(d, 'GET', url('c1', '/etc/hostname'))).status, 200, 'the container is intact');
  });
});
