/** `GET /1.0/events`: a websocket streaming operation, lifecycle and logging events. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { EventType } from '../../../api/event';
import type { DaemonState } from '../../state';
import { NOTIFIER_USER_AGENT } from '../../cluster/event-relay';
import { messageOf } from '../../errors';
import { refuseUpgrade } from '../refuse-upgrade';

const ALL_TYPES: EventType[] = ['operation', 'lifecycle', 'logging'];

export class EventsSocket {
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly s: DaemonState) {}

  /** Ends every events connection (daemon shutdown). */
  closeAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  /** Takes the upgrade when it is for /1.0/events. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(req.url ?? '/', 'http://unix');
    if (url.pathname.replace(/\/$/, '') !== '/1.0/events') return false;
    const types = (url.searchParams.get('type') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter((t): t is EventType => (ALL_TYPES as string[]).includes(t));
    const wanted = types.length > 0 ? types : ALL_TYPES;
    const project = url.searchParams.get('all-projects') === 'true' ? null : url.searchParams.get('project') || 'default';
    this.accept(req, socket, head, wanted, project).catch((err: unknown) => refuseUpgrade(socket, 500, messageOf(err)));
    return true;
  };

  /** Checks the project, then turns the connection into the event stream. */
  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, wanted: EventType[], project: string | null): Promise<void> {
    if (project !== null && (await this.s.db.projects.id(project)) === undefined) {
      refuseUpgrade(socket, 404, 'Project not found');
      return;
    }
    // Another member's link gets this member's own events: it has links to the others itself.
    const relayed = req.headers['user-agent'] !== NOTIFIER_USER_AGENT;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const off = this.s.events.subscribe(
        wanted,
        project,
        (ev) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(ev));
        },
        { relayed },
      );
      ws.on('close', off);
      ws.on('error', off);
      // Clients only listen; anything they send is ignored.
      ws.on('message', () => undefined);
    });
  }
}
