/**
 * The dqlite client: finds the leader among the known members, runs
 * membership changes on it and opens databases. Members are reached only
 * through the caller's `dial` (TLS with the cluster certificate in a
 * cluster), so the client never opens sockets of its own.
 */
import { Mutex, type Connection } from './connection';
import { DqliteDatabase } from './database';
import { DqliteError } from './errors';
import { askLeader, connectLeader, connectTo, type Dial } from './leader';
import { decodeFiles, decodeNodes, Response, type NodeInfo, type RoleName } from './protocol';
import {
  addRequest,
  assignRequest,
  clusterRequest,
  describeRequest,
  dumpRequest,
  removeRequest,
  transferRequest,
  weightRequest,
} from './requests';
import { LeaderConnection } from './leader-connection';
import { onLeader } from './retry';

export interface DqliteClientOptions {
  /** Members to ask for the leader first; the cluster's own list is added as it is learnt. */
  addresses: string[];
  dial: Dial;
  /** Limit for one dial or one answer (default 10 s). */
  requestTimeoutMs?: number;
  /** How long a request keeps looking for a leader across a failover (default 30 s). */
  leaderTimeoutMs?: number;
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`dqlite: member id must be a positive integer, got ${id}`);
}

export class DqliteClient {
  private readonly known: string[];
  private readonly dial: Dial;
  readonly requestTimeoutMs: number;
  readonly leaderTimeoutMs: number;
  private readonly admin: LeaderConnection;
  private readonly adminLock = new Mutex();
  private readonly databases = new Set<DqliteDatabase>();

  constructor(opts: DqliteClientOptions) {
    if (!Array.isArray(opts.addresses) || opts.addresses.length === 0) throw new TypeError('dqlite: at least one member address is needed');
    if (typeof opts.dial !== 'function') throw new TypeError('dqlite: dial must be a function');
    this.known = [...new Set(opts.addresses)];
    this.dial = opts.dial;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.leaderTimeoutMs = opts.leaderTimeoutMs ?? 30_000;
    this.admin = new LeaderConnection(this);
  }

  /** The addresses the client will ask for the leader. */
  get addresses(): readonly string[] {
    return this.known;
  }

  /**
   * A new connection to the leader, found through the known members before
   * deadline; learns the current member list on the way.
   */
  async connectLeader(deadline = Date.now() + this.leaderTimeoutMs): Promise<Connection> {
    const conn = await connectLeader(() => this.known, { dial: this.dial, timeoutMs: this.requestTimeoutMs }, deadline);
    try {
      const f = await conn.call(clusterRequest(), Response.Nodes);
      this.learn(decodeNodes(f.body));
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  private learn(nodes: NodeInfo[]): void {
    for (const n of nodes) if (n.address && !this.known.includes(n.address)) this.known.push(n.address);
  }

  private onAdmin<T>(idempotent: boolean, what: string, op: (c: Connection) => Promise<T>): Promise<T> {
    return this.adminLock.run(() => onLeader(this.admin, this.leaderTimeoutMs, idempotent, what, op));
  }

  /** The leader's id and address. */
  leader(): Promise<{ id: number; address: string }> {
    return this.onAdmin(true, 'leader', async (c) => {
      const l = await askLeader(c);
      if (!l) throw new DqliteError('no leader', 'ENOLEADER');
      return l;
    });
  }

  /** The members with their roles, as the leader sees them. */
  cluster(): Promise<NodeInfo[]> {
    return this.onAdmin(true, 'cluster', async (c) => {
      const nodes = decodeNodes((await c.call(clusterRequest(), Response.Nodes)).body);
      this.learn(nodes);
      return nodes;
    });
  }

  /** Adds a member as a spare (raft_add); assign() then gives it a role. */
  async add(id: number, address: string): Promise<void> {
    checkId(id);
    if (typeof address !== 'string' || address === '') throw new TypeError('dqlite: address must be a non-empty string');
    await this.onAdmin(false, `add member ${id}`, (c) => c.call(addRequest(id, address), Response.Empty));
    if (!this.known.includes(address)) this.known.push(address);
  }

  /** Gives a member a role; promoting to voter waits until it has caught up. */
  async assign(id: number, role: RoleName): Promise<void> {
    checkId(id);
    if (role !== 'voter' && role !== 'standby' && role !== 'spare') throw new TypeError(`dqlite: unknown role ${String(role)}`);
    await this.onAdmin(false, `assign member ${id}`, (c) => c.call(assignRequest(id, role), Response.Empty));
  }

  /** Removes a member from the cluster configuration. */
  async remove(id: number): Promise<void> {
    checkId(id);
    await this.onAdmin(false, `remove member ${id}`, (c) => c.call(removeRequest(id), Response.Empty));
  }

  /** Hands leadership to member id (which must be a caught-up voter); 0 lets raft choose. */
  async transfer(id: number): Promise<void> {
    if (id !== 0) checkId(id);
    await this.onAdmin(false, `transfer leadership to ${id}`, async (c) => {
      await c.call(transferRequest(id), Response.Empty);
      // This connection's node no longer leads.
      this.admin.drop(c);
    });
  }

  /** Runs op on a connection of its own to one member (no leader needed). */
  private async direct<T>(address: string, op: (c: Connection) => Promise<T>): Promise<T> {
    const conn = await connectTo(address, { dial: this.dial, timeoutMs: this.requestTimeoutMs });
    try {
      return await op(conn);
    } finally {
      conn.close();
    }
  }

  /** The failure domain and weight of the member at address. */
  describe(address: string): Promise<{ failureDomain: number; weight: number }> {
    return this.direct(address, async (c) => {
      const f = await c.call(describeRequest(), Response.Metadata);
      return { failureDomain: Number(f.body.readBigUInt64LE(0)), weight: Number(f.body.readBigUInt64LE(8)) };
    });
  }

  /** Sets the weight of the member at address (a hint for role placement). */
  async weight(address: string, weight: number): Promise<void> {
    if (!Number.isSafeInteger(weight) || weight < 0) throw new RangeError('dqlite: weight must be a non-negative integer');
    await this.direct(address, (c) => c.call(weightRequest(weight), Response.Empty));
  }

  /**
   * The database file and WAL as the member at address holds them (DUMP;
   * any member, leader or not): a way to read a follower's own copy.
   */
  dump(address: string, name: string): Promise<Array<{ name: string; data: Buffer }>> {
    return this.direct(address, async (c) => decodeFiles((await c.call(dumpRequest(name), Response.Files)).body));
  }

  /** Opens database `name` on the leader (created on first use). */
  /** Opens database `name` on its own connection; `init` runs on every (re)connection. */
  async open(name: string, init: readonly string[] = []): Promise<DqliteDatabase> {
    if (typeof name !== 'string' || name === '' || name.includes('/')) throw new TypeError('dqlite: database name must be a plain file name');
    const db = new DqliteDatabase(this, name, () => this.databases.delete(db), init);
    await db.connect();
    this.databases.add(db);
    return db;
  }

  /** Closes every connection. */
  close(): void {
    for (const db of [...this.databases]) db.close();
    this.admin.close();
  }
}
