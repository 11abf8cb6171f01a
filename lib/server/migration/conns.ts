/**
 * The named websockets of one migration (`control`, `fs`, `criu`), each
 * opened by a secret: either the peer connects to our operation
 * (`/1.0/operations/{id}/websocket?secret=`), or we dial the peer's
 * operation with the secrets it gave, presenting our server certificate
 * and trusting only the certificate the request named.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { WebSocket } from 'ws';
import type { OperationWebsockets } from '../operations/registry';
import { MigrationChannel } from './channel';

/** How long a peer has to open the control connection (Incus waits 30 s). */
export const CONNECT_TIMEOUT_MS = 30_000;

/** What dialing a peer needs: its operation URL, secrets and certificate, and our keypair. */
export interface DialSpec {
  /** `https://host:port/1.0/operations/<id>` */
  operation: string;
  secrets: Record<string, string>;
  /** The peer's certificate (PEM): the only one trusted; without it the system CAs apply. */
  certificate?: string;
  certPem: string;
  keyPem: string;
}

interface Slot {
  secret: string;
  channel?: MigrationChannel;
  /** Our dial under way (outgoing only): a second ask for the channel waits on it. */
  dialing?: Promise<MigrationChannel>;
  waiters: ((c: MigrationChannel) => void)[];
}

export class MigrationConns implements OperationWebsockets {
  private readonly slots = new Map<string, Slot>();
  private closed = false;

  /** Channels the peer opens on our operation, with fresh secrets. */
  static incoming(names: readonly string[]): MigrationConns {
    return new MigrationConns(names, undefined);
  }

  /** Channels we open on the peer's operation. */
  static outgoing(names: readonly string[], dial: DialSpec): MigrationConns {
    for (const n of names) if (!dial.secrets[n]) throw new Error(`Expected "${n}" connection secret missing from migration request`);
    return new MigrationConns(names, dial);
  }

  private constructor(
    names: readonly string[],
    private readonly dial: DialSpec | undefined,
  ) {
    for (const n of names) this.slots.set(n, { secret: dial ? dial.secrets[n]! : randomBytes(32).toString('hex'), waiters: [] });
  }

  /** The operation metadata Incus returns: connection name to secret. */
  secrets(): Record<string, string> {
    return Object.fromEntries([...this.slots].map(([n, s]) => [n, s.secret]));
  }

  accepts(secret: string): boolean {
    if (this.dial || this.closed) return false;
    return [...this.slots.values()].some((s) => s.secret === secret && !s.channel);
  }

  attach(secret: string, ws: WebSocket): void {
    const entry = [...this.slots].find(([, s]) => s.secret === secret && !s.channel);
    if (!entry || this.closed) {
      ws.close(1008, 'Connection already established');
      return;
    }
    const [name, slot] = entry;
    slot.channel = new MigrationChannel(name, ws);
    for (const w of slot.waiters.splice(0)) w(slot.channel);
  }

  /** The named channel: dialed now (outgoing), or once the peer connects (incoming), within `timeoutMs`. */
  async channel(name: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<MigrationChannel> {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`Migration connection "${name}" not initialized`);
    if (this.closed) throw new Error('Migration connections already closed');
    if (slot.channel) return slot.channel;
    if (this.dial) {
      slot.dialing ??= this.open(slot.secret, timeoutMs).then((ws) => {
        if (this.closed) {
          ws.terminate();
          throw new Error('Migration connections already closed');
        }
        slot.channel = new MigrationChannel(name, ws, true);
        return slot.channel;
      });
      return slot.dialing;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.waiters.splice(slot.waiters.indexOf(done), 1);
        reject(new Error(`Timed out waiting for the migration "${name}" connection`));
      }, timeoutMs);
      const done = (c: MigrationChannel): void => {
        clearTimeout(timer);
        resolve(c);
      };
      slot.waiters.push(done);
    });
  }

  /**
   * Starts dialing `names` now, where we dial, so that their TLS handshakes
   * overlap the first channel's instead of following it; a later
   * `channel()` takes the result, failure included. Nothing happens for
   * channels the peer opens (their wait starts when asked for).
   */
  prefetch(names: readonly string[], timeoutMs = CONNECT_TIMEOUT_MS): void {
    if (!this.dial) return;
    for (const n of names) this.channel(n, timeoutMs).catch(() => undefined);
  }

  private open(secret: string, timeoutMs: number): Promise<WebSocket> {
    const d = this.dial!;
    const url = new URL(d.operation.replace(/\/+$/, '') + '/websocket');
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    url.searchParams.set('secret', secret);
    const pinned = d.certificate ? new X509Certificate(d.certificate).fingerprint256 : undefined;
    // Trust is the exact certificate named, whatever address the peer is reached by.
    const tls: ConnectionOptions = {
      cert: d.certPem,
      key: d.keyPem,
      ...(d.certificate ? { ca: d.certificate } : {}),
      ...(pinned
        ? { checkServerIdentity: (_h: string, cert: PeerCertificate) => (cert.fingerprint256 === pinned ? undefined : new Error('Peer certificate does not match')) }
        : {}),
    };
    const ws = new WebSocket(url, { ...(tls as object), perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, handshakeTimeout: Math.min(timeoutMs, 10_000) });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', (err) => reject(new Error(`Failed connecting to migration peer ${url.host}: ${err.message}`)));
      ws.once('unexpected-response', (_req: unknown, res: IncomingMessage) => {
        reject(new Error(`Migration peer ${url.host} refused the connection: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        ws.terminate();
      });
    });
  }

  /** Closes every channel (normal closure). */
  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) s.channel?.close();
  }

  /** Drops every channel at once (failure or cancel). */
  terminate(): void {
    this.closed = true;
    for (const s of this.slots.values()) s.channel?.terminate();
  }
}

/** Where a migration's peer is: dial it (an operation and its secrets) or wait for it (`push`/no target). */
export interface PeerSpec {
  operation?: string;
  websockets?: Record<string, string>;
  certificate?: string;
}

/** Our connections for a migration end: dialing `peer` when given, else waiting with fresh secrets. */
export function connsFor(names: readonly string[], peer: PeerSpec | null, keypair: { certPem: string; keyPem: string }): MigrationConns {
  if (!peer) return MigrationConns.incoming(names);
  return MigrationConns.outgoing(names, {
    operation: peer.operation!,
    secrets: peer.websockets ?? {},
    certificate: peer.certificate || undefined,
    certPem: keypair.certPem,
    keyPem: keypair.keyPem,
  });
}
