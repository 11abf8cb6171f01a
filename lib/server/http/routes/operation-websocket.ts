/**
 * `GET /1.0/operations/{id}/websocket?secret=`: attaches a websocket to one
 * stream of a websocket-class operation (exec, console). The secret is
 * checked before the upgrade so that a wrong one gets a plain HTTP error.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { DaemonState } from '../../state';
import { refuseUpgrade } from '../refuse-upgrade';

const PATH = /^\/1\.0\/operations\/([^/]+)\/websocket\/?$/;

export class OperationWebsocketUpgrade {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });

  constructor(private readonly s: DaemonState) {}

  /** Ends every attached operation websocket (daemon shutdown). */
  closeAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://unix');
    const m = PATH.exec(url.pathname);
    if (!m) return false;
    const id = decodeURIComponent(m[1]);
    const secret = url.searchParams.get('secret') ?? '';
    const target = this.s.ops.websockets(id);
    if (!target) {
      // A finished operation is still there for a while: say so, as Incus does, rather than "not found".
      const op = this.s.ops.get(id);
      if (!op) refuseUpgrade(socket, 404, 'Operation not found');
      else if (op.class !== 'websocket') refuseUpgrade(socket, 400, 'Only websocket operations can be connected');
      else refuseUpgrade(socket, 400, op.err ? `Only running operations can be connected: ${op.err}` : 'Only running operations can be connected');
      return true;
    }
    if (!target.accepts(secret)) {
      refuseUpgrade(socket, 403, 'Wrong secret');
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => target.attach(secret, ws));
    return true;
  };
}
