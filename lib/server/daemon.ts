/**
 * The composition root: opens the database, builds every layer, re-finds
 * running instances, and serves the API on $INCUS_DIR/unix.socket.
 * Containers outlive the daemon: stopping it on a signal leaves them running.
 */
import { chmod, chown, readFile, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { dbOn } from './db';
import { EventRelay } from './cluster/event-relay';
import { HeartbeatTask } from './cluster/heartbeat';
import { ClusterMember } from './cluster/member';
import { fetchImageFromMembers } from './cluster/image-fetch';
import { inMaintenance } from './cluster/member-state';
import { STANDALONE_NAME } from './db/members';
import { migrations } from './db/migrations';
import { API_EXTENSIONS } from './api-extensions';
import { prepareGlobalDb } from './db/location';
import { EventBus } from './operations/event-bus';
import { OperationRegistry } from './operations/registry';
import { ImageStore } from './images/store';
import { ImageRemote } from './images/remote';
import { StoragePools } from './storage/pools';
import { mountDaemonStorage } from './storage/daemon-storage';
import { moveLegacyCustomVolumes } from './storage/custom-volume-layout';
import { NetworkManager } from './network/networks';
import { InstanceManager } from './instance/manager';
import { ProjectManager } from './projects/manager';
import { projectUpdateCheck } from './projects/permissions';
import { StateActions } from './instance/state-actions';
import { SnapshotManager } from './instance/snapshots';
import { SnapshotScheduler } from './instance/snapshot-scheduler';
import { hostIdmap } from './instance/idmap';
import { autostartInstances, shutdownInstances } from './instance/boot';
import { ExitWatcher } from './instance/exit-watch';
import { createInstanceDrivers } from './instance/load';
import { gatherServerFacts } from './server-info';
import { buildApp } from './http/server';
import { Logger } from './log';
import { LokiForwarder } from './loki';
import { checkHost, readHostFacts } from './warnings/host-checks';
import { trackInstanceWarnings } from './warnings/instance-warnings';
import { Warnings } from './warnings/warnings';
import { ensureVarDirs } from './var-dirs';
import type { DaemonState } from './state';
import { probeIdmappedMounts } from '../native/idmap';
import { ensureServerKeypair } from './auth/server-cert';
import { TrustStore } from './auth/trust-store';
import { HttpsListener } from './auth/https-listener';
import { metricsListenAddress, metricsOnly, refuseUpgrades } from './metrics/listener';
import { startGuestApi } from './guestapi/server';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface DaemonOptions {
  varDir: string;
  debug: boolean;
  logFile: string | null;
  group: string | null;
  version: string;
}

export interface Daemon {
  state: DaemonState;
  socketPath: string;
  /** Closes the API and the database; instances keep running. */
  close(): Promise<void>;
  /** Resolves once the daemon has been asked to shut down and has closed. */
  closed: Promise<void>;
}

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const text = await readFile('/etc/group', 'utf8');
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name) return Number(gid);
  }
  throw new Error(`Unknown group "${name}"`);
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const log = new Logger(opts.logFile, opts.debug);
  await ensureVarDirs(opts.varDir);
  const socketPath = join(opts.varDir, 'unix.socket');
  if (await socketInUse(socketPath)) throw new Error(`incusd is already running (${socketPath} answers)`);
  await unlink(socketPath).catch(() => undefined);

  const keypair = await ensureServerKeypair(opts.varDir);
  // A cluster member's Db is the cluster's dqlite database; a standalone host's its SQLite file.
  const cluster = await ClusterMember.open(opts.varDir, prepareGlobalDb(opts.varDir));
  const db = await dbOn(cluster.engine);
  db.node.id = await cluster.nodeId(db);
  await db.members.setVersion(cluster.serverName || STANDALONE_NAME, migrations.length, API_EXTENSIONS.length);
  cluster.whileClustered(new HeartbeatTask(() => db.members.heartbeat(cluster.local.clusterAddress), (err) => log.warn('Failed to record the heartbeat', { err: String(err) })));
  const trust = await TrustStore.open(db);
  trust.trustClusterCertificate(() => cluster.certificate?.certPem ?? null);
  const events = new EventBus(cluster.serverName || 'none');
  // A member's clients see every member's events.
  cluster.whileClustered(
    new EventRelay({
      peers: async () => (await db.members.list()).map((m) => m.address).filter((a) => a !== cluster.local.clusterAddress),
      certificate: () => cluster.certificate,
      relay: (ev) => events.relay(ev),
      warn: (message, context) => log.warn(message, context),
    }),
  );
  log.attach(events);
  const ops = new OperationRegistry(events, () => cluster.serverName || 'none');
  const pools = new StoragePools(opts.varDir, db);
  await pools.mountAll();
  await moveLegacyCustomVolumes(pools, db);
  // backups/ and images/ may live on a pool's volume: linked before anything reads them.
  await mountDaemonStorage(opts.varDir, db, pools, log);
  const images = new ImageStore(opts.varDir, db);
  await images.init();
  // A cluster member gets an image's files from a member holding them on first use.
  images.fromMembers = {
    active: () => cluster.clustered && cluster.certificate !== null,
    fetch: (fingerprint, file) => fetchImageFromMembers(db, cluster.certificate!, cluster.local.clusterAddress, fingerprint, file),
  };
  const imageRemote = new ImageRemote({ db, images, events, ops, log });
  const idmap = hostIdmap();
  const drivers = await createInstanceDrivers({
    varDir: opts.varDir,
    debug: opts.debug,
    lxcfsDir: process.env.INCUS_LXCFS_DIR || undefined,
    warn: (message) => log.warn(message),
  });

  const warnings = new Warnings(db, events, log);
  await checkHost(warnings, readHostFacts(), drivers);
  trackInstanceWarnings(warnings, events);

  // Idmapped mounts are probed once on the filesystem holding the pools.
  const idmapOk = await probeIdmappedMounts(join(opts.varDir, 'storage-pools'));
  if (!idmapOk) log.warn('Idmapped mounts unavailable: container rootfs will be shifted on disk');

  // Managed networks come up (or are re-adopted, dnsmasq included) before any instance starts.
  const networks = new NetworkManager({ db, events, log, varDir: opts.varDir, debug: opts.debug });
  await networks.startAll();

  const projects = new ProjectManager(db, events);
  projects.configChecks.push(projectUpdateCheck(db));
  // A restricted certificate's project list follows project renames and deletions.
  events.subscribe(['lifecycle'], null, (ev) => {
    if (String((ev.metadata as { action?: string }).action ?? '').startsWith('project-')) void trust.reload();
  });
  const instances = new InstanceManager({ db, events, images, imageDownloader: imageRemote.downloader, pools, drivers, idmap, idmappedPool: () => idmapOk, varDir: opts.varDir });
  const actions = new StateActions(instances);
  const snapshots = new SnapshotManager(instances, actions);
  actions.useStartupSnapshots((rec, cfg) => snapshots.takeStartupSnapshot(rec, cfg));
  const snapshotScheduler = new SnapshotScheduler(instances, snapshots, log);
  // The HTTPS listener serves the same app; its handler is bound once the app is ready.
  let routing: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let dispatchUpgrade: ((req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void) | null = null;
  const https = new HttpsListener({
    keypair,
    trust,
    handler: (req, res) => routing!(req, res),
    upgrade: (req, socket, head) => {
      if (!cluster.handleUpgrade(req, socket, head)) dispatchUpgrade!(req, socket, head);
    },
  });
  // A member serves the cluster certificate (the one members pin).
  if (cluster.certificate) https.useCertificate(cluster.certificate);
  const metricsListener = new HttpsListener({ keypair, trust, handler: metricsOnly((req, res) => routing!(req, res)), upgrade: refuseUpgrades });
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;

  const state: DaemonState = {
    varDir: opts.varDir,
    debug: opts.debug,
    version: opts.version,
    startedAt: new Date(),
    log,
    db,
    cluster,
    warnings,
    events,
    ops,
    projects,
    images,
    imageRemote,
    pools,
    networks,
    instances,
    actions,
    snapshots,
    snapshotScheduler,
    drivers,
    facts: gatherServerFacts(opts.version, drivers.all().map((d) => d.info), cluster.serverName),
    trust,
    keypair,
    https,
    metricsListener,
    requestShutdown: () => stopAllThenClose(),
  };

  const { app, upgrade } = buildApp(state);
  app.server.on('upgrade', upgrade);
  await app.listen({ path: socketPath });
  routing = app.routing;
  dispatchUpgrade = upgrade;
  const serverConfig = await db.config.all();
  // A member's own address is its own (node-local), the shared one the bootstrap member's.
  const httpsAddress = (cluster.clustered ? cluster.local.config()['core.https_address'] : undefined) || (serverConfig['core.https_address'] ?? '');
  if (httpsAddress) {
    // A listener that cannot start (address gone, port taken) must not keep the daemon down.
    await https.apply(httpsAddress).catch((err: unknown) => log.error('Failed to listen on HTTPS', { address: httpsAddress, err: String(err) }));
  }
  const metricsAddress = metricsListenAddress(serverConfig['core.metrics_address'] ?? '');
  if (metricsAddress) {
    await metricsListener.apply(metricsAddress).catch((err: unknown) => log.error('Failed to listen on the metrics address', { address: metricsAddress, err: String(err) }));
  }
  await chmod(socketPath, 0o660);
  if (opts.group) await chown(socketPath, 0, await groupId(opts.group));
  // /dev/incus in containers: a socket that fails to come up leaves the rest of the daemon serving.
  const guestApi = await startGuestApi(state).catch((err: unknown) => {
    log.error('Failed to start the guest API', { err: String(err) });
    return null;
  });
  log.info('Daemon started', { socket: socketPath, version: opts.version });

  // Instances that stop on their own are shut down (or auto-restarted) as Incus does.
  const exitWatcher = new ExitWatcher(instances, actions, log, () => cluster.maintenance);
  exitWatcher.follow(events);
  await exitWatcher.track(await db.instances.listLocal(null)).catch((err: unknown) => log.warn('Failed to watch instances', { err: String(err) }));
  // An evacuated member starts nothing until it is restored.
  cluster.maintenance = inMaintenance((await db.members.list()).find((m) => m.id === db.node.id)?.state ?? 0);
  if (!cluster.maintenance) void autostartInstances(instances, actions, log, warnings);
  await imageRemote.start();
  // Events go to Loki while loki.api.url is set (the daemon's own log lines included).
  const loki = new LokiForwarder(db, events);
  await loki.start();
  // With test hooks the scheduler's clock is driven only through /internal/testing/snapshots/tick.
  if (process.env.INCUS_TEST_HOOKS !== '1') snapshotScheduler.start();

  const close = (): Promise<void> => {
    closing ??= (async () => {
      exitWatcher.stop();
      await https.stop();
      await metricsListener.stop();
      await guestApi?.close();
      await app.close();
      ops.cancelClass('token');
      imageRemote.stop();
      snapshotScheduler.stop();
      // What is batched goes out before the database closes (retries cut short).
      await Promise.race([loki.stop(), new Promise((r) => setTimeout(r, 2_000).unref())]);
      networks.release();
      // Instances keep running; the drivers let go of them (QEMU monitors).
      for (const d of drivers.all()) d.release?.();
      await Promise.race([ops.drain(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await cluster.close();
      await unlink(socketPath).catch(() => undefined);
      log.info('Daemon stopped');
      resolveClosed();
    })();
    return closing;
  };

  // `incus admin shutdown`: stop every instance cleanly (as Incus does), then exit.
  let stopping: Promise<void> | null = null;
  const stopAllThenClose = (): Promise<void> => {
    stopping ??= stopAll().then(() => {
      setTimeout(() => void close(), 50);
    });
    return stopping;
  };
  const stopAll = (): Promise<void> => {
    // Stops at host shutdown keep the recorded power state, so the instances come back at boot.
    exitWatcher.stop();
    return shutdownInstances(instances, log);
  };

  return { state, socketPath, close, closed };
}
