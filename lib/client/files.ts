/**
 * The instance files API from the client side: `GET|HEAD|POST|DELETE
 * /1.0/instances/{name}/files` with contents streamed both ways (never
 * buffered whole), and `GET /1.0/instances/{name}/sftp` upgraded to a raw
 * SFTP connection. Streams go over their own HTTP requests on the client's
 * transport (Unix socket or HTTPS).
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { IncusClient } from './client';
import { parseEnvelope } from './envelope';
import { ApiError } from './errors';
import type { StreamRequest, Transport } from './transport';

/** What the X-Incus-* headers of a GET/HEAD say about a path. */
export interface InstanceFileInfo {
  uid: number;
  gid: number;
  /** Permission bits. */
  mode: number;
  type: 'file' | 'directory' | 'symlink';
  /** Content length for a file (HEAD/GET). */
  size: number;
}

/** A GET: a file's or symlink's bytes as a stream, or a directory's entry names. */
export type InstanceFileContent =
  | { info: InstanceFileInfo; type: 'file' | 'symlink'; stream: Readable }
  | { info: InstanceFileInfo; type: 'directory'; entries: string[] };

/** A POST. uid/gid/mode apply only when the file or directory is created. */
export interface InstanceFilePush {
  type?: 'file' | 'directory' | 'symlink';
  write?: 'overwrite' | 'append';
  uid?: number;
  gid?: number;
  /** Permission bits; sent as %04o. */
  mode?: number;
  /** File bytes, or the symlink target. */
  content?: Buffer | string | Readable;
  /** Bytes in `content` when it is a stream (sent as Content-Length instead of chunked). */
  size?: number;
}

interface Reply {
  res: http.IncomingMessage;
  status: number;
}

function header(res: http.IncomingMessage, name: string): string {
  const v = res.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

function intHeader(res: http.IncomingMessage, name: string): number {
  const n = Number.parseInt(header(res, `x-incus-${name}`) || header(res, `x-lxd-${name}`), 10);
  return Number.isFinite(n) ? n : -1;
}

/** The file description in a reply's headers. */
export function fileInfoOf(res: http.IncomingMessage): InstanceFileInfo {
  const t = header(res, 'x-incus-type') || header(res, 'x-lxd-type') || 'file';
  const m = Number.parseInt(header(res, 'x-incus-mode') || header(res, 'x-lxd-mode'), 8);
  return {
    uid: intHeader(res, 'uid'),
    gid: intHeader(res, 'gid'),
    mode: Number.isFinite(m) ? m : -1,
    type: t === 'directory' || t === 'symlink' ? t : 'file',
    size: Number(header(res, 'content-length') || '0'),
  };
}

async function readAll(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Instance files over the API: see the module comment. */
export class InstanceFiles {
  private readonly transport: Transport & Required<Pick<Transport, 'openRequest'>>;

  constructor(private readonly client: IncusClient) {
    const t = client.transport;
    if (!t.openRequest) throw new Error(`File transfers are not supported over ${t.address}`);
    this.transport = t as Transport & Required<Pick<Transport, 'openRequest'>>;
  }

  /** Drops idle connections (those of the client's transport, which the requests share). */
  close(): void {
    // The transport's pool belongs to the client, which closes it.
  }

  private open(method: string, path: string, headers: Record<string, string | number>, agent = true): StreamRequest {
    return this.transport.openRequest(method, path, headers, agent);
  }

  private url(name: string, what: 'files' | 'sftp', filePath?: string): string {
    const q = new URLSearchParams();
    if (filePath !== undefined) q.set('path', filePath);
    if (this.client.project !== undefined) q.set('project', this.client.project);
    const qs = q.toString();
    return `/1.0/instances/${encodeURIComponent(name)}/${what}${qs ? `?${qs}` : ''}`;
  }

  /** One request; an error reply is read and thrown as ApiError. */
  private send(method: string, path: string, headers: Record<string, string | number>, body?: Buffer | string | Readable): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const { req, mapError } = this.open(method, path, headers);
      req.on('error', (err: NodeJS.ErrnoException) => reject(mapError(err)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status === 200) {
          resolve({ res, status });
          return;
        }
        readAll(res).then(
          (buf) => {
            try {
              parseEnvelope({ status, statusText: res.statusMessage ?? '', headers: res.headers, body: buf }, `${method} ${path}`);
              reject(new ApiError(status, `Unexpected ${status} reply to ${method} ${path}`));
            } catch (err) {
              reject(err);
            }
          },
          reject,
        );
      });
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  /** HEAD: the path's type, owner and mode (404 ApiError when missing). */
  async stat(name: string, filePath: string): Promise<InstanceFileInfo> {
    const { res } = await this.send('HEAD', this.url(name, 'files', filePath), {});
    res.resume();
    return fileInfoOf(res);
  }

  /**
   * GET: a directory's entry names, or a file's (or symlink's, made
   * absolute by the server) bytes as a stream the caller must consume.
   */
  async get(name: string, filePath: string): Promise<InstanceFileContent> {
    const { res } = await this.send('GET', this.url(name, 'files', filePath), {});
    const info = fileInfoOf(res);
    if (info.type === 'directory') {
      const env = parseEnvelope({ status: 200, statusText: '', headers: res.headers, body: await readAll(res) }, `GET ${filePath}`);
      const md = env.type === 'sync' ? env.metadata : [];
      return { info, type: 'directory', entries: Array.isArray(md) ? md.map(String) : [] };
    }
    return { info, type: info.type, stream: res };
  }

  /** POST: creates or writes a file, a directory or a symlink. */
  async push(name: string, filePath: string, args: InstanceFilePush): Promise<void> {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
    if (args.uid !== undefined && args.uid >= 0) headers['X-Incus-uid'] = args.uid;
    if (args.gid !== undefined && args.gid >= 0) headers['X-Incus-gid'] = args.gid;
    if (args.mode !== undefined && args.mode >= 0) headers['X-Incus-mode'] = args.mode.toString(8).padStart(4, '0');
    if (args.type) headers['X-Incus-type'] = args.type;
    if (args.write) headers['X-Incus-write'] = args.write;
    const body = args.content ?? Buffer.alloc(0);
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = Buffer.byteLength(body);
    else if (args.size !== undefined) headers['Content-Length'] = args.size;
    const { res } = await this.send('POST', this.url(name, 'files', filePath), headers, body);
    const env = parseEnvelope({ status: 200, statusText: '', headers: res.headers, body: await readAll(res) }, `POST ${filePath}`);
    if (env.type !== 'sync') throw new ApiError(200, `Unexpected ${env.type} reply to POST ${filePath}`);
  }

  /** DELETE: a file or an empty directory; `force` removes a whole tree. */
  async delete(name: string, filePath: string, opts: { force?: boolean } = {}): Promise<void> {
    const { res } = await this.send('DELETE', this.url(name, 'files', filePath), opts.force ? { 'X-Incus-force': 'true' } : {});
    parseEnvelope({ status: 200, statusText: '', headers: res.headers, body: await readAll(res) }, `DELETE ${filePath}`);
  }

  /** `GET .../sftp` upgraded: the returned socket carries raw SFTP. */
  sftpConnection(name: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const path = this.url(name, 'sftp');
      const { req, mapError } = this.open('GET', path, { Upgrade: 'sftp', Connection: 'Upgrade' }, false);
      req.on('error', (err: NodeJS.ErrnoException) => reject(mapError(err)));
      req.on('upgrade', (res, socket, head) => {
        if (header(res, 'upgrade') !== 'sftp') {
          socket.destroy();
          reject(new ApiError(res.statusCode ?? 0, 'Missing or unexpected Upgrade header in response'));
          return;
        }
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        readAll(res).then((buf) => {
          try {
            parseEnvelope({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: buf }, `GET ${path}`);
            reject(new ApiError(res.statusCode ?? 0, `GET ${path} was not upgraded`));
          } catch (err) {
            reject(err);
          }
        }, reject);
      });
      req.end();
    });
  }
}
