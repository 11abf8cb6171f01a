/**
 * `GET|HEAD|POST|DELETE /1.0/instances/{name}/files?path=`: files,
 * directories and symlinks inside an instance, as Incus serves them. Every
 * path is resolved by a forkfile helper inside the container, so symlinks
 * and ".." never lead out of it; file contents stream between the HTTP
 * connection and the fd the helper opened.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { type InstanceFiles, type InstanceOpenedFile, openedReadStream, readToEnd } from '../../instance/files/instance-files';
import type { InstanceRecord } from '../../db/instances';
import { badRequest } from '../../errors';
import { fileError } from '../../instance/files/errors';
import { apiFileType, describeHeaders, isFalseOrEmpty, parsePushHeaders } from '../../instance/files/headers';
import { openInstanceFiles } from '../../instance/files/open-session';
import { pushFile } from '../../instance/files/push';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { incusHeader, projectOf, query } from '../request';

const ROUTE = '/1.0/instances/:name/files';
/** Read size for file downloads: large reads keep the copy cheap per byte. */
const READ_CHUNK = 1024 * 1024;
/** Files up to this stat size are read to their end first: pseudo files (procfs, sysfs) announce 0 or 4096 bytes whatever they hold. */
const SMALL_FILE = 64 * 1024;
/** The most a small file's read to its end keeps (a device that never ends stops there). */
const SMALL_FILE_LIMIT = 1024 * 1024;
/** Longest symlink target a POST may carry. */
const MAX_LINK = 4096;

type Req = FastifyRequest<{ Params: { name: string } }>;

/** The instance and the absolute in-container path a request names. */
async function target(s: DaemonState, req: Req): Promise<{ rec: InstanceRecord; path: string }> {
  const rec = await s.instances.get(await projectOf(s, req), req.params.name);
  let path = query(req).path ?? '';
  if (path === '') throw badRequest('Missing path argument');
  if (!path.startsWith('/')) path = `/${path}`;
  return { rec, path };
}

/** Runs fn with a session on the instance, always closing it. */
async function withSession<T>(s: DaemonState, rec: InstanceRecord, fn: (f: InstanceFiles) => Promise<T>): Promise<T> {
  const session = await openInstanceFiles(s, rec);
  try {
    return await fn(session);
  } catch (err) {
    throw fileError(err);
  } finally {
    await session.close();
  }
}

function lifecycle(s: DaemonState, rec: InstanceRecord, action: string, path: string): void {
  s.events.lifecycle(action, `/1.0/instances/${rec.name}`, rec.project, { path });
}

/** Reads a small request body (a symlink target). */
async function readSmallBody(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    size += b.length;
    if (size > limit) throw badRequest(`Symlink target longer than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Content-Disposition value; names beyond printable ASCII are percent-encoded (header bytes must be latin1). */
function disposition(name: string): string {
  return `inline;filename=${/^[\x20-\x7e]*$/.test(name) ? name : encodeURIComponent(name)}`;
}

/** Sends the bytes of an opened file; its fd or stream is let go in all cases. */
function sendFile(reply: FastifyReply, f: InstanceOpenedFile, size: number, name: string, headers: Record<string, string>, mtime: number): FastifyReply {
  void reply.headers({
    ...headers,
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(size),
    'Content-Disposition': disposition(name),
    'Last-Modified': new Date(mtime * 1000).toUTCString(),
  });
  // The stream ends at the Content-Length announced even if the file grows.
  return reply.send(openedReadStream(f, size, READ_CHUNK));
}

/** A small file's content read to its end, then sent with its true length. */
async function sendSmallFile(reply: FastifyReply, f: InstanceOpenedFile, name: string, headers: Record<string, string>, mtime: number): Promise<FastifyReply> {
  const body = await readToEnd(f, SMALL_FILE_LIMIT);
  void reply.headers({
    ...headers,
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(body.length),
    'Content-Disposition': disposition(name),
    'Last-Modified': new Date(mtime * 1000).toUTCString(),
  });
  return reply.send(body);
}

async function getFile(s: DaemonState, req: Req, reply: FastifyReply): Promise<unknown> {
  const { rec, path } = await target(s, req);
  const session = await openInstanceFiles(s, rec);
  let opened: { file: InstanceOpenedFile; size: number; mtime: number; headers: Record<string, string> } | null = null;
  let result: unknown;
  try {
    const st = await session.lstat(path);
    const headers = describeHeaders(st);
    const name = posix.basename(path);
    switch (apiFileType(st)) {
      case 'directory': {
        const entries = await session.readdir(path);
        void reply.headers(headers);
        result = syncResponse(entries.map((e) => e.name));
        break;
      }
      case 'symlink': {
        // As Incus: a relative target is made absolute against the link's directory, lexically.
        let link = await session.readlink(path);
        if (!link.startsWith('/')) link = posix.join(posix.dirname(path), link);
        const body = Buffer.from(posix.normalize(link), 'utf8');
        void reply.headers({
          ...headers,
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(body.length),
          'Content-Disposition': disposition(name),
        });
        result = body;
        break;
      }
      default: {
        const f = await session.open(path, { read: true });
        opened = { file: f, size: f.stat.size, mtime: f.stat.mtime, headers };
      }
    }
  } catch (err) {
    throw fileError(err);
  } finally {
    // The open fd needs no helper: let it go before the transfer.
    await session.close();
  }
  lifecycle(s, rec, 'instance-file-retrieved', path);
  if (opened && opened.size <= SMALL_FILE) return sendSmallFile(reply, opened.file, posix.basename(path), opened.headers, opened.mtime);
  if (opened) return sendFile(reply, opened.file, opened.size, posix.basename(path), opened.headers, opened.mtime);
  return reply.send(result);
}

async function headFile(s: DaemonState, req: Req, reply: FastifyReply): Promise<void> {
  const { rec, path } = await target(s, req);
  const st = await withSession(s, rec, (f) => f.lstat(path));
  const headers: Record<string, string> = describeHeaders(st);
  if (apiFileType(st) === 'file') {
    headers['Content-Type'] = 'application/octet-stream';
    headers['Content-Length'] = String(st.size);
  }
  // Written by hand: a HEAD reply announces the file's length with no body.
  reply.hijack();
  reply.raw.writeHead(200, headers);
  reply.raw.end();
}

async function postFile(s: DaemonState, req: Req): Promise<unknown> {
  const { rec, path } = await target(s, req);
  const h = parsePushHeaders((n) => incusHeader(req, n));
  if (h.write !== 'overwrite' && h.write !== 'append') throw badRequest(`Bad file write mode: ${h.write}`);
  if (!['file', 'symlink', 'directory'].includes(h.type)) throw badRequest(`Bad file type: ${h.type}`);
  const body = req.raw;
  const owner = { uid: h.uid >= 0 ? h.uid : undefined, gid: h.gid >= 0 ? h.gid : undefined };

  switch (h.type) {
    case 'file':
      // One session for the whole upload: the temporary file is renamed (or removed) through it.
      await withSession(s, rec, (sess) =>
        pushFile(sess, path, body, { append: h.write === 'append', mode: h.mode >= 0 ? h.mode : undefined, ...owner }),
      );
      break;
    case 'symlink': {
      const link = await readSmallBody(body, MAX_LINK);
      await withSession(s, rec, async (sess) => {
        const current = await sess.readlink(path).catch(() => null);
        if (current !== link) await sess.symlink(link, path);
      });
      break;
    }
    default:
      await withSession(s, rec, async (sess) => {
        const exists = await sess.stat(path).then(
          () => true,
          () => false,
        );
        if (!exists) await sess.mkdir(path, { mode: h.mode >= 0 ? h.mode : 0o755, ...owner });
      });
  }
  lifecycle(s, rec, 'instance-file-pushed', path);
  return syncResponse({});
}

async function deleteFile(s: DaemonState, req: Req): Promise<unknown> {
  const { rec, path } = await target(s, req);
  // "/", "/.", "//" and the like: the root of an instance cannot go (the helper would answer EBUSY).
  if (posix.resolve('/', path) === '/') throw badRequest('Cannot delete the root directory of an instance');
  const force = !isFalseOrEmpty(incusHeader(req, 'force'));
  await withSession(s, rec, (f) => (force ? f.removeAll(path) : f.remove(path, { dirs: true })));
  lifecycle(s, rec, 'instance-file-deleted', path);
  return syncResponse({});
}

/** Registers the files endpoints in a scope whose bodies are never parsed (uploads stream). */
export function registerInstanceFiles(app: FastifyInstance, s: DaemonState): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.get<{ Params: { name: string } }>(ROUTE, { exposeHeadRoute: false }, (req, reply) => getFile(s, req, reply));
    scope.head<{ Params: { name: string } }>(ROUTE, (req, reply) => headFile(s, req, reply));
    scope.post<{ Params: { name: string } }>(ROUTE, (req) => postFile(s, req));
    scope.delete<{ Params: { name: string } }>(ROUTE, (req) => deleteFile(s, req));
  });
}
