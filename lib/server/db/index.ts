/** Everything the daemon needs from the database, built from one handle. */
import { type Database, openDatabase } from './database';
import { ConfigQueries } from './config';
import { ImageQueries } from './images';
import { InstanceQueries } from './instances';
import { ProfileQueries } from './profiles';
import { ProjectQueries } from './projects';
import { StoragePoolQueries } from './storage-pools';

export interface Db {
  readonly handle: Database;
  readonly config: ConfigQueries;
  readonly projects: ProjectQueries;
  readonly instances: InstanceQueries;
  readonly profiles: ProfileQueries;
  readonly images: ImageQueries;
  readonly pools: StoragePoolQueries;
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
    pools: new StoragePoolQueries(handle),
    transaction: (fn) => handle.transaction(fn),
    close: () => handle.close(),
  };
}
