/** Everything the daemon needs from the database: query modules over one async engine. */
import { BackupQueries } from './backups';
import { CertificateQueries } from './certificates';
import { ClusterGroupQueries } from './cluster-groups';
import { ConfigQueries } from './config';
import { migrate } from './database';
import { ImageQueries } from './images';
import { ImageSourceQueries } from './image-sources';
import { InstanceQueries } from './instances';
import { type LocalNode, MemberQueries } from './members';
import { NetworkQueries } from './networks';
import { NetworkForwardQueries } from './network-forwards';
import { ProfileQueries } from './profiles';
import { ProjectQueries } from './projects';
import { SnapshotQueries } from './snapshots';
import type { Sql, SqlEngine } from './sql';
import { SqliteEngine } from './sqlite-engine';
import { StoragePoolQueries } from './storage-pools';
import { VolumeBackupQueries } from './volume-backups';
import { WarningQueries } from './warnings';

/** The query modules, bound to the engine or to one transaction. */
export interface Queries {
  readonly config: ConfigQueries;
  readonly projects: ProjectQueries;
  readonly instances: InstanceQueries;
  readonly profiles: ProfileQueries;
  readonly images: ImageQueries;
  readonly imageSources: ImageSourceQueries;
  readonly pools: StoragePoolQueries;
  readonly networks: NetworkQueries;
  readonly networkForwards: NetworkForwardQueries;
  readonly snapshots: SnapshotQueries;
  readonly backups: BackupQueries;
  readonly volumeBackups: VolumeBackupQueries;
  readonly certificates: CertificateQueries;
  readonly warnings: WarningQueries;
  readonly members: MemberQueries;
  readonly clusterGroups: ClusterGroupQueries;
}

export interface Db extends Queries {
  readonly engine: SqlEngine;
  /** The member this daemon is (id 1 on a standalone host): rows it creates for itself carry its id. */
  readonly node: LocalNode;
  /**
   * Runs fn in one write transaction with queries bound to it: commit when it
   * resolves, rollback when it throws. Writes inside must go through `tx`.
   */
  transaction<T>(fn: (tx: Queries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The query modules over any Sql (cheap: statements are prepared lazily by the engine). */
export function queriesOn(sql: Sql, node: LocalNode = { id: 1 }): Queries {
  return {
    config: new ConfigQueries(sql),
    projects: new ProjectQueries(sql),
    instances: new InstanceQueries(sql, node),
    profiles: new ProfileQueries(sql),
    images: new ImageQueries(sql, node),
    imageSources: new ImageSourceQueries(sql),
    pools: new StoragePoolQueries(sql, node),
    networks: new NetworkQueries(sql, node),
    networkForwards: new NetworkForwardQueries(sql),
    snapshots: new SnapshotQueries(sql),
    backups: new BackupQueries(sql),
    volumeBackups: new VolumeBackupQueries(sql),
    certificates: new CertificateQueries(sql),
    warnings: new WarningQueries(sql),
    members: new MemberQueries(sql),
    clusterGroups: new ClusterGroupQueries(sql),
  };
}

/** The database over an engine, migrated to the latest schema. */
export async function dbOn(engine: SqlEngine): Promise<Db> {
  await migrate(engine);
  const node: LocalNode = { id: 1 };
  return {
    ...queriesOn(engine, node),
    engine,
    node,
    transaction: (fn) => engine.transaction((tx) => fn(queriesOn(tx, node))),
    close: () => engine.close(),
  };
}

/** A standalone host's database: the SQLite file at `path` (created if needed). */
export function openDb(path: string): Promise<Db> {
  return dbOn(SqliteEngine.open(path));
}
