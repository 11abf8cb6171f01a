/**
 * File access through incus-agent (what `incus file` does in a VM), with
 * the agent on the host over an inherited socket (--fd) so every path is
 * checked against the real filesystem: the forkfile requests over an agent
 * files channel (stat, listing, mkdir, symlink, rename, setstat, remove),
 * errors with their errno codes, 16 MiB written through pushFile (temporary
 * file, then rename) and read back as a stream byte for byte, an abandoned
 * read that leaves the agent serving, and several files open at once.
 * The agent started here is killed by PID in teardown.
 */
import t from 'tap';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileType } from '../../lib/native/forkfile';
import { AgentClient } from '../../lib/server/instance/drivers/qemu/agent-client';
import { AgentFileSession } from '../../lib/server/instance/drivers/qemu/agent-files';
import { openedReadStream } from '../../lib/server/instance/files/instance-files';
import { pushFile } from '../../lib/server/instance/files/push';

const AGENT = process.env.INCUS_TEST_AGENT ?? path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'incus-agent');
const MiB = 1024 * 1024;

let agent: ChildProcess | undefined;
let root = '';
t.teardown(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  if (root) await fs.rm(root, { recursive: true, force: true });
});

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

t.test('files through the agent', async (t) => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'agent-files-'));
  await fs.writeFile(path.join(root, 'agent.secret'), 'files-secret\n');
  agent = spawn(AGENT, ['--fd', '3', '--secret-file', path.join(root, 'agent.secret')], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  const client = await AgentClient.attach(agent.stdio[3] as Socket, 'files-secret');
  const files = await AgentFileSession.open(client, 'v1');

  // Path requests: the same forkfile handlers containers use, in the guest.
  const dir = path.join(root, 'd');
  await files.mkdir(dir, { mode: 0o750 });
  t.equal((await fs.stat(dir)).mode & 0o7777, 0o750, 'mkdir with an exact mode');
  await fs.writeFile(path.join(dir, 'a'), 'alpha');
  await files.symlink('a', path.join(dir, 'l'));
  t.equal(await files.readlink(path.join(dir, 'l')), 'a', 'symlink and readlink');
  t.equal(fileType((await files.lstat(path.join(dir, 'l'))).mode), 'symlink', 'lstat sees the link');
  t.equal((await files.stat(path.join(dir, 'l'))).size, 5, 'stat follows it');
  t.same((await files.readdir(dir)).map((e) => e.name).sort(), ['a', 'l'], 'readdir');
  await files.rename(path.join(dir, 'a'), path.join(dir, 'b'));
  await files.setstat(path.join(dir, 'b'), { mode: 0o600, uid: 1234, gid: 4321 });
  const st = await fs.stat(path.join(dir, 'b'));
  t.same([st.mode & 0o7777, st.uid, st.gid], [0o600, 1234, 4321], 'rename, then setstat of mode and owner');
  t.ok((await files.statvfs(root)).bsize > 0, 'statvfs');
  await t.rejects(files.lstat(path.join(root, 'missing')), { code: 'ENOENT' }, 'a missing path: ENOENT');
  await t.rejects(files.rmdir(dir), { code: 'ENOTEMPTY' }, 'rmdir of a full directory: ENOTEMPTY');
  await t.rejects(files.lstat('/a\0b'), TypeError, 'a NUL in a path never reaches the agent');
  await t.rejects(files.open(dir, { read: true }), { code: 'EISDIR' }, 'opening a directory: EISDIR');

  // 16 MiB written the way `incus file push` writes (temporary file, then rename), read back as a stream.
  const data = randomBytes(16 * MiB);
  const target = path.join(dir, 'big');
  await fs.writeFile(target, 'old');
  await fs.chmod(target, 0o640);
  await pushFile(files, target, Readable.from([data.subarray(0, 5 * MiB), data.subarray(5 * MiB)]), { append: false });
  const onDisk = await fs.readFile(target);
  t.equal(sha(onDisk), sha(data), '16 MiB pushed byte-identical');
  t.equal((await fs.stat(target)).mode & 0o7777, 0o640, 'the replaced file keeps its mode');
  t.same((await fs.readdir(dir)).filter((n) => n.startsWith('.incus-push-')), [], 'no temporary file left');
  const opened = await files.open(target, { read: true });
  t.equal(opened.stat.size, 16 * MiB, 'open reports the size');
  t.equal(sha(await collect(openedReadStream(opened, opened.stat.size, MiB))), sha(data), '16 MiB read back byte-identical');

  // Appends write in place.
  await pushFile(files, path.join(dir, 'b'), Readable.from([Buffer.from('-beta')]), { append: true });
  t.equal(await fs.readFile(path.join(dir, 'b'), 'utf8'), 'alpha-beta', 'append in place');

  // A read abandoned after the first chunk: the agent stops, and keeps serving.
  const abandoned = await files.open(target, { read: true });
  const r = openedReadStream(abandoned, abandoned.stat.size, MiB);
  await new Promise((res) => r.once('data', res));
  r.destroy();
  t.equal((await files.stat(target)).size, 16 * MiB, 'requests still answered after an abandoned read');

  // Several files at once, read in parallel.
  const names = ['x', 'y', 'z'];
  for (const n of names) await fs.writeFile(path.join(dir, n), n.repeat(300_000));
  const many = await Promise.all(names.map((n) => files.open(path.join(dir, n), { read: true })));
  const got = await Promise.all(many.map((f) => collect(openedReadStream(f, f.stat.size, MiB))));
  t.same(got.map((b) => b.toString()), names.map((n) => n.repeat(300_000)), 'three files read at once');

  // Handles for positional I/O (what SFTP uses in VMs).
  const io = files.remoteIo;
  const h = await files.open(path.join(dir, 'r'), { read: true, write: true, create: true, mode: 0o600, random: true });
  t.ok(h.fd !== undefined && h.fd >= 0x80000000, 'a random-access open gives an agent handle');
  const handle = h.fd!;
  await io.pwrite(handle, Buffer.from('hello world'), 0);
  await io.pwrite(handle, Buffer.from('WORLD'), 6);
  await io.pwrite(handle, randomBytes(300 * 1024), 11);
  t.equal((await io.pread(handle, 11, 0)).toString(), 'hello WORLD', 'pwrite at offsets, pread back');
  t.equal((await io.pread(handle, 10, 11 + 300 * 1024)).length, 0, 'pread at the end: no bytes');
  t.equal((await files.fstat(handle)).size, 11 + 300 * 1024, 'fstat of the handle');
  await files.fsetstat(handle, { size: 5, mode: 0o640 });
  const rs = await fs.stat(path.join(dir, 'r'));
  t.same([rs.size, rs.mode & 0o7777], [5, 0o640], 'fsetstat of the handle: size and mode');
  await io.fsync(handle);
  await io.closeHandle(handle);
  await t.rejects(io.pread(handle, 1, 0), { code: 'EBADF' }, 'a closed handle: EBADF');
  await t.rejects(io.pread(0x80000001, 1, 0), { code: 'EBADF' }, 'a handle never opened: EBADF');

  await files.removeAll(dir);
  await t.rejects(fs.stat(dir), { code: 'ENOENT' }, 'removeAll');
  await files.close();
  await t.rejects(files.stat(root), { code: 'EBADF' }, 'a closed session refuses requests');

  // A second session on the same connection works, and exec still does.
  const again = await AgentFileSession.open(client);
  t.ok((await again.stat(root)).mode, 'a new files session');
  await again.close();
  client.close();
});
