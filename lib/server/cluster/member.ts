/**
 * This host's part in clustering: its local store, its gateway, and the
 * engine its Db runs on (SQLite while standalone, dqlite once clustered,
 * swapped in place by a bootstrap). Opened before the Db, because whether
 * the Db is a local file or the cluster's database is decided here.
 */
import { existsSync } from 'node:fs';
import { copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { copyDatabase } from '../db/copy-database';
import { migrate } from '../db/database';
import type { Db } from '../db';
import type { ClusterCertificate } from '../db/dqlite';
import { SqliteEngine } from '../db/sqlite-engine';
import { SwitchableEngine } from '../db/switchable-engine';
import { acceptDatabaseUpgrade, isDatabaseUpgrade } from './database-link';
import { ClusterGateway } from './gateway';
import { LocalStore, type RaftNode } from './local-store';
import { memberAgent } from './member-agent';

/** The cluster keypair's files (Incus's). */
const CLUSTER_FILES = ['cluster.crt', 'cluster.key', 'cluster.ca'] as const;

/** The cluster keypair once there is one (the gateway reads it at each dial). */
interface CertBox {
  cert: ClusterCertificate | null;
}

/** Work a member does only while clustered (the heartbeat, the event links). */
export interface ClusterTask {
  start(): void;
  stop(): void;
}

export class ClusterMember {
  private name: string | null = null;
  /** Whether this member is evacuating, evacuated or restoring (its instance exits are then expected). */
  maintenance = false;
  /** Run while this host is clustered (none on a standalone host). */
  private readonly tasks: ClusterTask[] = [];

  private constructor(
    private readonly varDir: string,
    /** The standalone SQLite file (moved aside once clustered). */
    private readonly sqlitePath: string,
    readonly local: LocalStore,
    readonly gateway: ClusterGateway,
    private readonly box: CertBox,
    /** What the daemon's Db runs on. */
    readonly engine: SwitchableEngine,
  ) {}

  /**
   * Opens the local store and the engine: on a cluster member its dqlite
   * node is started and the cluster's database opened; on a standalone host
   * the SQLite file at `sqlitePath`.
   */
  static async open(varDir: string, sqlitePath: string): Promise<ClusterMember> {
    const local = LocalStore.open(varDir);
    const box: CertBox = { cert: null };
    const gateway = new ClusterGateway(varDir, local, () => {
      if (!box.cert) throw new Error('This member has no cluster certificate');
      return box.cert;
    });
    if (local.raftId === 0) return new ClusterMember(varDir, sqlitePath, local, gateway, box, new SwitchableEngine(SqliteEngine.open(sqlitePath)));
    try {
      box.cert = await readClusterCertificate(varDir);
      await gateway.start();
      const engine = await gateway.openEngine();
      gateway.watchMembers();
      return new ClusterMember(varDir, sqlitePath, local, gateway, box, new SwitchableEngine(engine));
    } catch (err) {
      await gateway.stop().catch(() => undefined);
      local.close();
      throw err;
    }
  }

  /** Whether this host is a cluster member. */
  get clustered(): boolean {
    return this.local.raftId !== 0;
  }

  /** A task started now when clustered, else once a bootstrap or join succeeds; stopped on close. */
  whileClustered(task: ClusterTask): void {
    this.tasks.push(task);
    if (this.clustered) task.start();
  }

  /** This member's name in the cluster ('' while standalone); read once, as instance views ask for it often. */
  get serverName(): string {
    if (this.name === null) {
      const address = this.local.clusterAddress;
      this.name = this.local.raftNodes().find((n) => n.address === address)?.name ?? '';
    }
    return this.name;
  }

  /** This member's row in the cluster's nodes table (1 while standalone, and for the bootstrap member). */
  async nodeId(db: Pick<Db, 'members'>): Promise<number> {
    if (!this.clustered) return 1;
    const address = this.local.clusterAddress;
    return (await db.members.list()).find((m) => m.address === address)?.id ?? 1;
  }

  /** Records this member's new name in its local store (after the cluster's database renamed it). */
  renameSelf(newName: string): void {
    const address = this.local.clusterAddress;
    this.local.setRaftNodes(this.local.raftNodes().map((n) => (n.address === address ? { ...n, name: newName } : n)));
    this.name = null;
  }

  /** The cluster keypair (null while standalone): what the HTTPS listener serves once clustered. */
  get certificate(): ClusterCertificate | null {
    return this.box.cert;
  }

  /** Handles `/internal/database` upgrades on the HTTPS listener; false for any other upgrade. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!isDatabaseUpgrade(req)) return false;
    acceptDatabaseUpgrade(socket, head, this.box.cert, this.gateway.accept);
    return true;
  }

  /**
   * Makes this standalone host the first member of a new cluster (Incus's
   * cluster.Bootstrap): raft id 1 at its cluster address, the server
   * keypair as the cluster's, its dqlite node started, and the SQLite data
   * moved into dqlite under the running Db. Undone when a step fails.
   * `afterMove` runs on the new engine before the switch is called done.
   */
  async bootstrap(name: string, afterMove: () => Promise<void>): Promise<void> {
    if (name === '') throw new Error('Server name must not be empty');
    for (const f of CLUSTER_FILES) {
      if (existsSync(join(this.varDir, f))) throw new Error('Inconsistent state: found leftover cluster certificate');
    }
    const address = this.local.clusterAddress;
    const nodes = this.local.raftNodes();
    if (address === '' && nodes.length > 0) throw new Error('Inconsistent state: found leftover entries in raft_nodes');
    if (address === '') throw new Error('No cluster.https_address config is set on this member');
    if (nodes.length > 0) throw new Error('The member is already part of a cluster');

    await this.become(async () => {
      this.local.setRaftNodes([{ id: 1, address, role: 'voter', name }]);
      this.name = null;
      // The cluster certificate is the server's own, as Incus copies it on bootstrap.
      await copyFile(join(this.varDir, 'server.crt'), join(this.varDir, 'cluster.crt'));
      await copyFile(join(this.varDir, 'server.key'), join(this.varDir, 'cluster.key'));
      this.box.cert = await readClusterCertificate(this.varDir);
      await this.gateway.start();
      await this.engine.replace(async (old) => {
        const dq = await this.gateway.openEngine();
        try {
          await copyDatabase(old, dq);
        } catch (err) {
          await dq.close();
          throw err;
        }
        return dq;
      });
    }, afterMove);
  }

  /**
   * Joins an existing cluster that accepted this host (Incus's cluster.Join):
   * saves the cluster keypair, records the raft members, starts this
   * member's dqlite node and has the leader add it, then replaces the local
   * database by the cluster's (the local data is dropped, as Incus drops
   * it). Undone when a step before the switch fails.
   */
  async join(name: string, cert: ClusterCertificate, nodes: RaftNode[], afterMove: () => Promise<void>): Promise<void> {
    for (const f of CLUSTER_FILES) {
      if (existsSync(join(this.varDir, f))) throw new Error('Inconsistent state: found leftover cluster certificate');
    }
    const address = this.local.clusterAddress;
    const self = nodes.find((n) => n.address === address && n.name === name);
    if (!self) throw new Error(`This member (${address}) is not among the accepted raft members`);
    await this.become(async () => {
      await writeFile(join(this.varDir, 'cluster.crt'), cert.certPem, { mode: 0o644 });
      await writeFile(join(this.varDir, 'cluster.key'), cert.keyPem, { mode: 0o600 });
      this.box.cert = cert;
      this.local.setRaftNodes(nodes);
      this.name = null;
      await this.gateway.start();
      await this.gateway.addMember(self.id, address);
      await this.engine.replace(async () => this.gateway.openEngine());
    }, async () => {
      await this.gateway.saveMembers(new Map(nodes.map((n) => [n.address, n.name])));
      await afterMove();
    });
  }

  /**
   * Runs `move` (the steps up to the data living in dqlite), undone if it
   * fails; then `afterMove`, with no way back once the data moved: the
   * member stays clustered. The raft list is kept current and the
   * heartbeat runs from then on.
   */
  private async become(move: () => Promise<void>, afterMove: () => Promise<void>): Promise<void> {
    try {
      await move();
    } catch (err) {
      await this.undoBootstrap();
      throw err;
    }
    this.gateway.watchMembers();
    await afterMove();
    await this.retireSqlite();
    for (const task of this.tasks) task.start();
  }

  /**
   * Moves the standalone SQLite file aside once its data lives in dqlite:
   * nothing reads it any more, and scripts that open database/global/db.bin
   * with sqlite3 (Incus's test harness) must not find stale rows there.
   */
  private async retireSqlite(): Promise<void> {
    for (const suffix of ['', '-wal', '-shm']) {
      await rename(this.sqlitePath + suffix, `${this.sqlitePath}.standalone${suffix}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }

  /**
   * Makes this member standalone again once the cluster removed it (Incus's
   * clusterPutDisable and gateway Reset): its Db moves to a new, empty
   * SQLite file (the cluster's data is not kept, as Incus resets its
   * database), its dqlite node stops and its data, raft list and cluster
   * keypair go. `afterSwitch` runs on the new engine (Incus restarts the
   * daemon instead: in-memory state is the caller's to reset).
   */
  async leave(afterSwitch: () => Promise<void>): Promise<void> {
    if (!this.clustered) throw new Error('This server is not clustered');
    for (const task of this.tasks) task.stop();
    await this.engine.replace(async () => {
      for (const suffix of ['', '-wal', '-shm']) await rm(this.sqlitePath + suffix, { force: true });
      const fresh = SqliteEngine.open(this.sqlitePath);
      await migrate(fresh);
      return fresh;
    });
    await this.gateway.stop();
    this.local.setRaftNodes([]);
    this.name = null;
    this.box.cert = null;
    for (const f of CLUSTER_FILES) await rm(join(this.varDir, f), { force: true });
    await rm(join(this.varDir, 'database', 'dqlite'), { recursive: true, force: true });
    await afterSwitch();
  }

  /** Back to standalone after a failed bootstrap or join (the SQLite engine still serves unless the move finished). */
  private async undoBootstrap(): Promise<void> {
    await this.gateway.stop().catch(() => undefined);
    this.local.setRaftNodes([]);
    this.name = null;
    this.box.cert = null;
    for (const f of CLUSTER_FILES) await rm(join(this.varDir, f), { force: true });
    await rm(join(this.varDir, 'database', 'dqlite'), { recursive: true, force: true });
  }

  /** Closes the engine, the gateway and the local store. */
  async close(): Promise<void> {
    memberAgent.destroy();
    for (const task of this.tasks) task.stop();
    await this.engine.close();
    await this.gateway.stop();
    this.local.close();
  }
}

async function readClusterCertificate(varDir: string): Promise<ClusterCertificate> {
  const [certPem, keyPem] = await Promise.all([readFile(join(varDir, 'cluster.crt'), 'utf8'), readFile(join(varDir, 'cluster.key'), 'utf8')]);
  return { certPem, keyPem };
}
