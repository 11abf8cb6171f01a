/** The daemon's wiring, passed to every route (no module singletons). */
import type { Db } from './db';
import type { ImageStore } from './images/store';
import type { ImageRemote } from './images/remote';
import type { InstanceDrivers } from './instance/load';
import type { InstanceManager } from './instance/manager';
import type { StateActions } from './instance/state-actions';
import type { SnapshotManager } from './instance/snapshots';
import type { SnapshotScheduler } from './instance/snapshot-scheduler';
import type { EventBus } from './operations/event-bus';
import type { OperationRegistry } from './operations/registry';
import type { StoragePools } from './storage/pools';
import type { NetworkManager } from './network/networks';
import type { ServerFacts } from './server-info';
import type { ProjectManager } from './projects/manager';
import type { TrustStore } from './auth/trust-store';
import type { ServerKeypair } from './auth/server-cert';
import type { Logger } from './log';
import type { Warnings } from './warnings/warnings';
import type { ClusterMember } from './cluster/member';

/** The HTTPS listener as routes see it: where it listens, and moving it. */
export interface NetworkListener {
  /** The `core.https_address` listened on now ("" when not listening). */
  readonly current: string;
  /** Listens on an address ("" stops); throws (and keeps the old one) when it cannot. */
  apply(address: string): Promise<void>;
  /** Serves another keypair (the cluster's once joined). */
  useCertificate(pair: { certPem: string; keyPem: string }): void;
}

export interface DaemonState {
  readonly varDir: string;
  readonly debug: boolean;
  readonly version: string;
  readonly startedAt: Date;
  /** The daemon's log (a file or stderr, mirrored as `logging` events). */
  readonly log: Logger;
  readonly db: Db;
  /** Clustering: the local store, the gateway, the engine the Db runs on. */
  readonly cluster: ClusterMember;
  /** `/1.0/warnings`: host and instance conditions, raised and resolved where noticed. */
  readonly warnings: Warnings;
  readonly events: EventBus;
  readonly ops: OperationRegistry;
  /** Projects: CRUD, features (whose profiles, images, volumes a project uses), config checks. */
  readonly projects: ProjectManager;
  readonly images: ImageStore;
  /** Downloads from remote servers, refresh, auto-update and cache expiry, image secrets. */
  readonly imageRemote: ImageRemote;
  readonly pools: StoragePools;
  readonly networks: NetworkManager;
  readonly instances: InstanceManager;
  readonly actions: StateActions;
  readonly snapshots: SnapshotManager;
  readonly snapshotScheduler: SnapshotScheduler;
  /** The instance drivers, one per instance type this host runs. */
  readonly drivers: InstanceDrivers;
  readonly facts: ServerFacts;
  /** Trusted client certificates (`/1.0/certificates`). */
  readonly trust: TrustStore;
  /** server.crt / server.key. */
  readonly keypair: ServerKeypair;
  /** The listener on `core.https_address`. */
  readonly https: NetworkListener;
  /** The metrics-only listener on `core.metrics_address` (its address with the default port filled in). */
  readonly metricsListener: NetworkListener;
  /**
   * `incus admin shutdown`: stops every instance cleanly and resolves when
   * they are down; the daemon then exits once the reply has gone out.
   */
  requestShutdown(): Promise<void>;
}
