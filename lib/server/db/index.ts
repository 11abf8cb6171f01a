/** Everything the daemon needs from the database, built from one handle. */
import { type Database, openDatabase } from './database';
import { BackupQueries } from './backups';
import { CertificateQueries } from './certificates';
import { ConfigQueries } from './config';
import { ImageQueries } from './images';
import { ImageSourceQueries } from './image-sources';
import { InstanceQueries } from './instances';
import { NetworkQueries } from './networks';
import { ProfileQueries } from './profiles';
import { ProjectQueries } from './projects';
import { SnapshotQueries } from './snapshots';
import { StoragePoolQueries } from './storage-pools';
import { WarningQueries } from './warnings';

export interface Db {
  readonly handle: Database;
  readonly config: ConfigQueries;
  readonly projects: ProjectQueries;
  readonly instances: InstanceQueries;
  readonly profiles: ProfileQueries;
  readonly images: ImageQueries;
  readonly imageSources: ImageSourceQueries;
  readonly pools: StoragePoolQueries;
  readonly networks: NetworkQueries;
  readonly snapshots: SnapshotQueries;
  readonly backups: BackupQueries;
  readonly certificates: CertificateQueries;
  readonly warnings: WarningQueries;
  transaction<T>(fn: () => T): T;
  close(): void;
}

export function openDb(path: string): Db {
  const handle = openDatabase(path);
  return {
    handle,
    config: new ConfigQueries(handle),
    projects: new ProjectQueries(handle),
    instances: new InstanceQueries(handle),
    profiles: new ProfileQueries(handle),
    images: new ImageQueries(handle),
    imageSources: new ImageSourceQueries(handle),
    pools: new StoragePoolQueries(handle),
    networks: new NetworkQueries(handle),
    snapshots: new SnapshotQueries(handle),
    backups: new BackupQueries(handle),
    certificates: new CertificateQueries(handle),
    warnings: new WarningQueries(handle),
    transaction: (fn) => handle.transaction(fn),
    close: () => handle.close(),
  };
}
