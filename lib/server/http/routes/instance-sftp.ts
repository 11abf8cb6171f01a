/**
 * `GET /1.0/instances/{name}/sftp` with `Upgrade: sftp`: after
 * "101 Switching Protocols" the connection carries raw SFTP, served inside
 * the instance by a forkfile session (as Incus does; its client calls this
 * GetInstanceFileSFTPConn). Without the upgrade header the request is a 400.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest, messageOf, notFound, statusOf } from '../../errors';
import { openInstanceFiles } from '../../instance/files/open-session';
import { serveSftp } from '../../instance/files/sftp-server';
import type { DaemonState } from '../../state';

import { refuseUpgrade } from '../refuse-upgrade';

const PATH = /^\/1\.0\/instances\/([^/]+)\/sftp\/?$/;
const PROTOCOL = 'sftp';
const MISSING_UPGRADE = 'Missing or invalid upgrade header';

const refuse = refuseUpgrade;

/** Takes the upgrade for /1.0/instances/{name}/sftp. */
export class InstanceSftpUpgrade {
  /** Live SFTP connections: ended when the daemon shuts down (they would hold it open). */
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly s: DaemonState) {}

  /** Ends every SFTP connection (their sessions then close their helpers). */
  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://unix');
    const m = PATH.exec(url.pathname);
    if (!m || req.method !== 'GET') return false;
    this.serve(req, socket, head, decodeURIComponent(m[1]!), url).catch((err: unknown) => refuse(socket, statusOf(err), messageOf(err)));
    return true;
  };

  private async serve(req: IncomingMessage, socket: Duplex, head: Buffer, name: string, url: URL): Promise<void> {
    if (req.headers.upgrade !== PROTOCOL) throw badRequest(MISSING_UPGRADE);
    const project = url.searchParams.get('project') || 'default';
    if ((await this.s.db.projects.id(project)) === undefined) throw notFound('Project not found');
    const rec = await this.s.instances.get(project, name);
    const session = await openInstanceFiles(this.s, rec);
    if (socket.destroyed) {
      await session.close();
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`);
    this.sockets.add(socket);
    try {
      await serveSftp(socket, head, session);
    } finally {
      this.sockets.delete(socket);
    }
  }
}

/**
 * Registers the SFTP endpoint: the upgrade handler it returns goes in the
 * server's upgrade list; the same path reached without a connection
 * upgrade is a 400, as in Incus. Open sessions end when the server closes.
 */
export function registerInstanceSftp(app: FastifyInstance, s: DaemonState): InstanceSftpUpgrade {
  const sftp = new InstanceSftpUpgrade(s);
  app.addHook('preClose', (done) => {
    sftp.closeAll();
    done();
  });
  app.get('/1.0/instances/:name/sftp', async () => {
    throw badRequest(MISSING_UPGRADE);
  });
  return sftp;
}
