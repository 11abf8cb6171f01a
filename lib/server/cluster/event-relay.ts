/**
 * Every member's events on any member's `/1.0/events` (Incus's cluster
 * event listeners, full mesh): this member keeps one websocket to each other
 * member, with the cluster keypair, asking for that member's own events only
 * (the notifier user agent), and hands what arrives to its bus as relayed.
 * A relayed event is never sent on to another member, so a client sees each
 * member's events once, with no loops. The links follow the member list,
 * reconnect with backoff, and exist only while this host is clustered.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Event } from '../../api/event';
import type { ClusterCertificate } from '../db/dqlite';
import { certificateFingerprint, peerMatches } from '../db/dqlite/tls-transport';

/** Marks a member's events connection (Incus's UserAgentNotifier): it gets that member's own events only. */
export const NOTIFIER_USER_AGENT = 'incus-cluster-notifier';

/** How often the member list is read again (joins, removals, address changes). */
const REFRESH_MS = 3_000;
/** Reconnection delays: doubled after each failure up to the cap, reset once connected. */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** A link that has not answered a ping for this long is taken as dead (a member gone without closing). */
const PING_MS = 15_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface EventRelayDeps {
  /** The other members' addresses now. */
  peers(): Promise<string[]>;
  /** The cluster keypair (null: not clustered, no links). */
  certificate(): ClusterCertificate | null;
  /** Takes an event another member sent. */
  relay(ev: Event): void;
  warn(message: string, context: Record<string, string>): void;
}

/** The events connection to one member, kept open until closed. */
class MemberLink {
  private ws: WebSocket | null = null;
  private retry: NodeJS.Timeout | null = null;
  private delay = BACKOFF_MIN_MS;
  private closed = false;
  private pingedAt = 0;
  private answered = true;
  private readonly fingerprint: string;

  constructor(
    readonly address: string,
    readonly cert: ClusterCertificate,
    private readonly deps: EventRelayDeps,
  ) {
    this.fingerprint = certificateFingerprint(cert.certPem);
    this.connect();
  }

  private connect(): void {
    this.retry = null;
    if (this.closed) return;
    const ws = new WebSocket(`wss://${this.address}/1.0/events?all-projects=true`, {
      cert: this.cert.certPem,
      key: this.cert.keyPem,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      headers: { 'User-Agent': NOTIFIER_USER_AGENT },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    this.ws = ws;
    // Trusted only when it shows the cluster certificate (checked before any event is read).
    ws.on('upgrade', (res: IncomingMessage) => {
      if (!peerMatches(res.socket as TLSSocket, this.fingerprint)) {
        this.deps.warn('Cluster member events: certificate mismatch', { address: this.address });
        ws.terminate();
      }
    });
    ws.on('open', () => {
      this.delay = BACKOFF_MIN_MS;
      this.answered = true;
      this.pingedAt = Date.now();
    });
    ws.on('message', (data: Buffer) => this.take(data));
    ws.on('pong', () => (this.answered = true));
    // 'close' follows every error.
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      this.reconnectLater();
    });
  }

  private take(data: Buffer): void {
    let ev: Event;
    try {
      ev = JSON.parse(data.toString('utf8')) as Event;
    } catch {
      return;
    }
    if (ev && typeof ev === 'object' && typeof ev.type === 'string') this.deps.relay(ev);
  }

  private reconnectLater(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => this.connect(), this.delay);
    this.retry.unref();
    this.delay = Math.min(this.delay * 2, BACKOFF_MAX_MS);
  }

  /** Pings an open link now and then; one that did not answer the last ping is dropped (and reconnects). */
  checkAlive(now: number): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || now - this.pingedAt < PING_MS) return;
    if (!this.answered) {
      ws.terminate();
      return;
    }
    this.answered = false;
    this.pingedAt = now;
    ws.ping();
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.ws?.terminate();
    this.ws = null;
  }
}

export class EventRelay {
  private readonly links = new Map<string, MemberLink>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly deps: EventRelayDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
    this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  /** Opens links to new members and closes those to members gone (a failed read keeps the links as they are). */
  private refresh(): void {
    if (this.busy) return;
    this.busy = true;
    this.deps
      .peers()
      .then((addresses) => this.follow(addresses))
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
      });
  }

  private follow(addresses: string[]): void {
    if (!this.timer) return;
    const cert = this.deps.certificate();
    const wanted = new Set(cert ? addresses : []);
    for (const [address, link] of this.links) {
      // A new cluster keypair means new links.
      if (wanted.has(address) && link.cert === cert) continue;
      link.close();
      this.links.delete(address);
    }
    const now = Date.now();
    for (const address of wanted) {
      const link = this.links.get(address);
      if (link) link.checkAlive(now);
      else this.links.set(address, new MemberLink(address, cert!, this.deps));
    }
  }
}
