/**
 * A dqlite node run by the addon (native/addon/dqlite-node.cc) on its own
 * thread, with its traffic carried by streams the caller authenticates:
 * dqlite listens only on an abstract unix socket of this process; outgoing
 * raft connections reach JS as one end of a socketpair that is piped to
 * `dial(address)` (TLS in a cluster); incoming connections (already
 * authenticated, e.g. a TLS socket or an upgraded HTTP connection) are
 * handed to accept(), which pipes them into the bind socket.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { binding } from './addon';
import type { DqliteNodeHandle } from './binding';
import { wrapNative } from './errors';

/** Raft roles as dqlite numbers them. */
const roles = { voter: 0, standby: 1, spare: 2 } as const;

export interface DqliteNodeConfig {
  /** Raft id: 1 bootstraps a new cluster on its first start; others join through add(). */
  id: number;
  /** The address other members reach this one at, as `dial` understands it (e.g. "10.0.0.1:8443"). */
  address: string;
  /** Where raft's log and snapshots live. */
  dataDir: string;
  /** Opens an authenticated stream to another member. */
  dial: (address: string) => Promise<Duplex>;
  /** Abstract unix socket to listen on ("@name"); "@" (the default) lets the kernel pick a free one. */
  bindAddress?: string;
  networkLatencyMs?: number;
  failureDomain?: number;
  snapshotThreshold?: number;
  snapshotTrailing?: number;
  /** Told of dial failures for outgoing raft connections (dqlite retries by itself). */
  onDialError?: (address: string, err: Error) => void;
}

/** Pipes a and b into each other; either one ending or failing ends both. */
function splice(a: Duplex, b: Duplex, streams: Set<Duplex>): void {
  streams.add(a);
  streams.add(b);
  const end = (): void => {
    streams.delete(a);
    streams.delete(b);
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.once('error', end);
    s.once('close', end);
    s.once('end', end);
  }
  a.pipe(b);
  b.pipe(a);
}

/** A stream over an fd the addon handed over (a socketpair end or a connected unix socket). */
function fdStream(fd: number): Socket {
  return new Socket({ fd, readable: true, writable: true });
}

export class DqliteNode {
  private running = false;
  private destroyed = false;

  private constructor(
    private readonly handle: DqliteNodeHandle,
    readonly id: number,
    readonly address: string,
    /** The abstract socket dqlite listens on ("@name"). */
    readonly bindAddress: string,
    /** Every piped stream, outgoing and incoming, so stop() can end them. */
    private readonly streams: Set<Duplex>,
  ) {}

  /** Creates the node (its data directory must exist) and binds its socket; start() runs it. */
  static async create(config: DqliteNodeConfig): Promise<DqliteNode> {
    if (!Number.isSafeInteger(config.id) || config.id < 1) throw new RangeError(`dqlite: node id must be a positive integer, got ${config.id}`);
    if (typeof config.address !== 'string' || config.address === '') throw new TypeError('dqlite: address must be a non-empty string');
    if (typeof config.dataDir !== 'string' || config.dataDir === '') throw new TypeError('dqlite: dataDir must be a non-empty string');
    if (typeof config.dial !== 'function') throw new TypeError('dqlite: dial must be a function');
    const bindAddress = config.bindAddress ?? '@';
    if (!bindAddress.startsWith('@')) throw new TypeError('dqlite: bindAddress must be an abstract socket name starting with "@"');
    const b = binding();
    const streams = new Set<Duplex>();
    const onConnect = (fd: number, address: string): void => {
      const local = fdStream(fd);
      config.dial(address).then(
        (remote) => {
          if (local.destroyed) remote.destroy();
          else splice(local, remote, streams);
        },
        (err: Error) => {
          local.destroy();
          config.onDialError?.(address, err);
        },
      );
    };
    const label = `node ${config.id}`;
    const handle = await wrapNative('dqliteNodeCreate', label, () => b.dqliteNodeCreate(config.id, config.address, config.dataDir, onConnect));
    try {
      const bound = b.dqliteNodeSetBindAddress(handle, bindAddress);
      const opts = {
        networkLatencyMs: config.networkLatencyMs,
        failureDomain: config.failureDomain,
        snapshotThreshold: config.snapshotThreshold,
        snapshotTrailing: config.snapshotTrailing,
      };
      if (Object.values(opts).some((v) => v !== undefined)) b.dqliteNodeSetOptions(handle, opts);
      return new DqliteNode(handle, config.id, config.address, bound, streams);
    } catch (err) {
      b.dqliteNodeDestroy(handle);
      throw err;
    }
  }

  /** Starts the node (on its own thread); it then serves its bind socket. */
  async start(): Promise<void> {
    await wrapNative('dqliteNodeStart', `node ${this.id}`, () => binding().dqliteNodeStart(this.handle));
    this.running = true;
  }

  /** Stops the node: in-flight requests finish, connections close. */
  async stop(): Promise<void> {
    await wrapNative('dqliteNodeStop', `node ${this.id}`, () => binding().dqliteNodeStop(this.handle));
    this.running = false;
    for (const s of this.streams) s.destroy();
  }

  /**
   * Forces the cluster configuration to `members` after a majority is lost
   * (dqlite_node_recover_ext); the node must be stopped. See dqlite.h for the
   * whole procedure (most up-to-date survivor, copy its data to the others).
   */
  async recover(members: Array<{ id: number; address: string; role?: keyof typeof roles }>): Promise<void> {
    const list = members.map((m) => ({ id: m.id, address: m.address, role: roles[m.role ?? 'voter'] }));
    for (const m of list) if (!Number.isSafeInteger(m.id) || m.id < 1 || m.role === undefined) throw new RangeError('dqlite: bad member in recover()');
    await wrapNative('dqliteNodeRecover', `node ${this.id}`, () => binding().dqliteNodeRecover(this.handle, list));
  }

  /** A new client connection to this node through its bind socket (same process only). */
  connectLocal(): Socket {
    return fdStream(binding().dqliteConnectAbstract(this.bindAddress));
  }

  /** Pipes an authenticated connection from another member or client into the node. */
  accept(stream: Duplex): void {
    let local: Socket;
    try {
      local = this.connectLocal();
    } catch {
      stream.destroy();
      return;
    }
    splice(local, stream, this.streams);
  }

  /** Stops the node if it runs and frees it; idempotent. */
  async close(): Promise<void> {
    if (this.destroyed) return;
    if (this.running) await this.stop();
    for (const s of this.streams) s.destroy();
    binding().dqliteNodeDestroy(this.handle);
    this.destroyed = true;
  }
}

/** The version of libdqlite in use (e.g. 11000 for 1.11.x). */
export function dqliteVersion(): number {
  return binding().dqliteVersion();
}
