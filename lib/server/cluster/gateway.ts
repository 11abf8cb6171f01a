/**
 * This member's part in the replicated database (Incus's cluster Gateway):
 * its dqlite node, fed by the HTTPS listener's `/internal/database`
 * upgrades, and the client that finds the leader and opens the cluster's
 * database. Standalone hosts never start it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DqliteNode } from '../../native/dqlite';
import { type ClusterCertificate, DqliteClient, type NodeInfo } from '../db/dqlite';
import { DqliteEngine } from '../db/dqlite-engine';
import { databaseDial } from './database-link';
import type { LocalStore, RaftNode, RaftRole } from './local-store';

/** The database's name inside dqlite (Incus's). */
export const DATABASE_NAME = 'db.bin';
/** Voters and stand-by members a cluster keeps, as Incus does. */
const MAX_VOTERS = 3;
const MAX_STANDBY = 2;
/** How often a member copies the raft membership into its local store. */
const MEMBERS_REFRESH_MS = 2000;

export class ClusterGateway {
  private node: DqliteNode | null = null;
  private client: DqliteClient | null = null;
  private membersTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly varDir: string,
    private readonly local: LocalStore,
    /** The cluster keypair now (it changes when this member joins). */
    private readonly cert: () => ClusterCertificate,
  ) {}

  /** Whether this member is part of a cluster (its node runs). */
  get running(): boolean {
    return this.node !== null;
  }

  /** Hands a member's authenticated dqlite connection to the node (null while none runs). */
  get accept(): ((s: Duplex) => void) | null {
    const node = this.node;
    return node ? (s) => node.accept(s) : null;
  }

  /** Starts the node with this member's raft id; id 1 on first start bootstraps the cluster. */
  async start(): Promise<void> {
    if (this.node) return;
    const id = this.local.raftId;
    if (id === 0) throw new Error('This member has no raft id');
    const dataDir = join(this.varDir, 'database', 'dqlite');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const node = await DqliteNode.create({ id, address: this.local.clusterAddress, dataDir, dial: databaseDial(this.cert) });
    try {
      await node.start();
    } catch (err) {
      await node.close();
      throw err;
    }
    this.node = node;
  }

  /** The client to the cluster's leader (own node through its local socket, others over TLS). */
  dqlite(): DqliteClient {
    if (this.client) return this.client;
    const own = this.local.clusterAddress;
    const remote = databaseDial(this.cert);
    const addresses = this.local.raftNodes().map((n) => n.address);
    this.client = new DqliteClient({
      addresses: addresses.length > 0 ? addresses : [own],
      dial: async (address) => (address === own && this.node ? this.node.connectLocal() : remote(address)),
    });
    return this.client;
  }

  /** Opens the cluster's database (waits for a leader). */
  openEngine(): Promise<DqliteEngine> {
    return DqliteEngine.open(this.dqlite(), DATABASE_NAME);
  }

  /** The raft members as dqlite knows them now. */
  members(): Promise<NodeInfo[]> {
    return this.dqlite().cluster();
  }

  /** The leader's address ('' when none is known). */
  async leaderAddress(): Promise<string> {
    return (await this.dqlite().leader()).address;
  }

  /** Adds a started member to raft, then gives roles out again. */
  async addMember(id: number, address: string): Promise<void> {
    const client = this.dqlite();
    if (!(await client.cluster()).some((n) => n.id === id)) await client.add(id, address);
    await this.rebalance();
  }

  /**
   * Takes the member at `address` out of raft (Incus's Leave), if it is in
   * it. A leader hands leadership to another voter first (promoting one
   * when it is the only voter, as Incus promotes the other member of a
   * two-member cluster), then roles are given out again.
   */
  async removeMember(address: string): Promise<void> {
    const client = this.dqlite();
    const nodes = await client.cluster();
    const node = nodes.find((n) => n.address === address);
    if (!node) return;
    if ((await client.leader()).address === address) {
      let heir = nodes.find((n) => n.id !== node.id && n.role === 'voter');
      if (!heir) {
        heir = nodes.find((n) => n.id !== node.id);
        if (!heir) throw new Error('Member is the only member in the cluster');
        await client.assign(heir.id, 'voter');
      }
      await client.transfer(heir.id);
    }
    await client.remove(node.id);
    await this.rebalance();
  }

  /**
   * Gives database roles as Incus does: up to three voters (one while there
   * are only two members, so that losing the second does not block the
   * first), up to two stand-by, the rest spare.
   */
  async rebalance(): Promise<void> {
    const client = this.dqlite();
    const nodes = await client.cluster();
    const wantVoters = nodes.length >= MAX_VOTERS ? MAX_VOTERS : 1;
    let voters = nodes.filter((n) => n.role === 'voter').length;
    let standby = nodes.filter((n) => n.role === 'standby').length;
    for (const n of [...nodes].sort((a, b) => a.id - b.id)) {
      if (n.role === 'voter') continue;
      if (voters < wantVoters) {
        await client.assign(n.id, 'voter');
        voters++;
        if (n.role === 'standby') standby--;
      } else if (n.role === 'spare' && standby < MAX_STANDBY) {
        await client.assign(n.id, 'standby');
        standby++;
      }
    }
  }

  /** Writes the raft membership into the local store (what a restart dials first), when it changed. */
  async saveMembers(names: Map<string, string>): Promise<void> {
    const nodes: RaftNode[] = (await this.members()).map((n) => ({ id: n.id, address: n.address, role: n.role as RaftRole, name: names.get(n.address) ?? '' }));
    if (nodes.length === 0 || JSON.stringify(nodes) === JSON.stringify(this.local.raftNodes())) return;
    this.local.setRaftNodes(nodes);
  }

  /**
   * Keeps the local store's raft members current on every member, not only
   * on the one that joined last: a member that restarts finds the leader
   * through them (its own node cannot, its listener being down until the
   * database is open).
   */
  watchMembers(everyMs = MEMBERS_REFRESH_MS): void {
    if (this.membersTimer) return;
    let busy = false;
    this.membersTimer = setInterval(() => {
      if (busy || !this.node) return;
      busy = true;
      const names = new Map(this.local.raftNodes().map((n) => [n.address, n.name]));
      // A refresh that fails (no leader for now) is tried again on the next tick.
      this.saveMembers(names)
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, everyMs);
    this.membersTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.membersTimer) clearInterval(this.membersTimer);
    this.membersTimer = null;
    this.client?.close();
    this.client = null;
    await this.node?.close();
    this.node = null;
  }
}
