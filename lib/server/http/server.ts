/**
 * The fastify application: body parsing, the one error handler that turns
 * every failure into Incus's error envelope, routes, and websocket upgrades.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorResponse } from '../response';
import { messageOf, statusOf } from '../errors';
import type { DaemonState } from '../state';
import { registerRoot } from './routes/root';
import { registerOperations } from './routes/operations';
import { registerInstances } from './routes/instances';
import { registerInstanceState } from './routes/instance-state';
import { registerInstanceRebuild } from './routes/instance-rebuild';
import { registerInstanceSnapshots } from './routes/instance-snapshots';
import { registerInstanceBackups } from './routes/instance-backups';
import { registerRecover } from './routes/recover';
import { registerAdminSql } from './routes/admin-sql';
import { registerInstanceExec } from './routes/instance-exec';
import { registerInstanceConsole } from './routes/instance-console';
import { registerInstanceLogs } from './routes/instance-logs';
import { registerInstanceFiles } from './routes/instance-files';
import { registerInstanceSftp } from './routes/instance-sftp';
import { registerImages } from './routes/images';
import { registerImageAliases } from './routes/image-aliases';
import { registerImageRemote } from './routes/image-remote';
import { registerImageExport } from './routes/image-export';
import { registerStreams } from './routes/streams';
import { registerProfiles } from './routes/profiles';
import { registerProjects } from './routes/projects';
import { registerStoragePools } from './routes/storage-pools';
import { registerNetworks } from './routes/networks';
import { registerNetworkAllocations } from './routes/network-allocations';
import { registerNetworkState } from './routes/network-state';
import { registerNetworkForwards } from './routes/network-forwards';
import { registerCertificates } from './routes/certificates';
import { registerWarnings } from './routes/warnings';
import { registerMetrics } from './routes/metrics';
import { registerResources } from './routes/resources';
import { EventsSocket } from './routes/events';
import { callerOf } from '../auth/caller';
import { fetchSiteDenied } from './fetch-metadata';
import { registerCluster } from './routes/cluster';
import { registerClusterMove } from './routes/cluster-move';
import { registerClusterMemberState } from './routes/cluster-member-state';
import { registerClusterGroups } from './routes/cluster-groups';
import { ClusterForwarder } from '../cluster/forward';
import { checkAccess, requestUrl, upgradeRoute } from '../auth/access';
import { refuseUpgrade } from './refuse-upgrade';
import { OperationWebsocketUpgrade } from './routes/operation-websocket';
import { clientErrorHandler, frameworkErrors } from './framework-errors';
import { recordRoutes, registerRouteTable, type RouteEntry } from './route-table';
import { attachBodySchemas } from './route-schemas';
import { applyTimeouts, idleTimeoutMs } from './timeouts';

/** Handles a websocket upgrade for a path, or returns false. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export interface ApiServer {
  app: FastifyInstance;
  upgrades: UpgradeHandler[];
  /** Checks the caller, then hands the upgrade to the handler for its path (or ends it). */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Every route registered, as fastify's onRoute hook saw it. */
  routes: RouteEntry[];
}

const STREAM_TYPES = new Set(['application/octet-stream', 'multipart/form-data']);
/**
 * Largest JSON body, as Incus (http.MaxBytesReader, 1 MiB): a config or
 * description is never bigger, and a parsed body costs several times its size.
 * Uploads (octet-stream, multipart, file pushes) are streams and unlimited.
 */
const JSON_BODY_LIMIT = 1024 * 1024;
/** Incus's LargeRequest endpoints: their JSON bodies may be bigger. */
const LARGE_BODY_ROUTES = new Set(['POST /1.0/instances', 'POST /1.0/images', 'POST /1.0/storage-pools/:pool/volumes', 'POST /1.0/storage-pools/:pool/volumes/:type']);
const LARGE_BODY_LIMIT = 64 * 1024 * 1024;

export function buildApp(s: DaemonState): ApiServer {
  const app = Fastify({
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    frameworkErrors,
    clientErrorHandler,
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, allowUnionTypes: true },
    },
  });

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => LARGE_BODY_ROUTES.has(`${m} ${route.url}`))) route.bodyLimit ??= LARGE_BODY_LIMIT;
  });
  applyTimeouts(app.server, idleTimeoutMs());
  attachBodySchemas(app);
  const routes = recordRoutes(app);

  // Incus parses any body as JSON whatever its Content-Type (curl -d sends
  // form encoding); uploads stream through untouched.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req: FastifyRequest, body: string | Buffer, done) => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim();
    if (STREAM_TYPES.has(type)) {
      done(null, undefined);
      return;
    }
    const text = String(body);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const e = new Error(`Invalid JSON body: ${(err as Error).message}`) as Error & { statusCode: number };
      e.statusCode = 400;
      done(e, undefined);
      return;
    }
    // Every Incus request body is a JSON object (null reads as an empty one).
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      const e = new Error(`Invalid request body: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`) as Error & { statusCode: number };
      e.statusCode = 400;
      done(e, undefined);
      return;
    }
    done(null, parsed ?? undefined);
  });
  for (const t of STREAM_TYPES) {
    app.addContentTypeParser(t, (_req, payload, done) => done(null, payload));
  }

  app.setErrorHandler((err, _req, reply) => {
    let status = statusOf(err);
    let msg = messageOf(err);
    const v = (err as { validation?: unknown; validationContext?: string }).validation;
    if (v) {
      status = 400;
      msg = `Invalid request: ${msg}`;
    }
    if (status >= 500 && s.debug) process.stderr.write(`incusd: ${(err as Error).stack ?? msg}\n`);
    void reply.code(status).send(errorResponse(status, msg));
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send(errorResponse(404, 'not found'));
  });

  const access = { operationProject: (id: string) => s.ops.projectOf(id) };
  // Trust is decided per request from the connection: the Unix socket, or the TLS peer certificate.
  app.addHook('onRequest', async (req) => {
    const denied = checkAccess(callerOf(req.raw, s.trust), req.method, req.routeOptions.url, requestUrl(req.url), access);
    if (denied) throw denied;
    // API endpoints only (an unknown path stays a 404), as Incus checks it in its endpoint handler.
    const site = req.routeOptions.url === undefined ? null : fetchSiteDenied(req.headers);
    if (site) throw site;
  });
  // In a cluster, requests about another member's instances and operations are passed on to it.
  const forwarder = new ClusterForwarder(s);
  app.addHook('onRequest', forwarder.onRequest);
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST') return;
    if (req.routeOptions.url === '/1.0/instances') await forwarder.onCreate(req, reply);
    else if (req.routeOptions.url === '/1.0/images') await forwarder.onPublish(req, reply);
  });

  const events = new EventsSocket(s);
  registerRoot(app, s);
  registerCluster(app, s);
  registerClusterMove(app, s);
  registerClusterMemberState(app, s);
  registerClusterGroups(app, s);
  registerCertificates(app, s);
  registerWarnings(app, s);
  registerMetrics(app, s);
  registerResources(app);
  registerOperations(app, s);
  registerInstances(app, s);
  registerInstanceState(app, s);
  registerInstanceRebuild(app, s);
  registerInstanceSnapshots(app, s);
  registerInstanceBackups(app, s);
  registerRecover(app, s);
  registerAdminSql(app, s);
  registerInstanceExec(app, s);
  registerInstanceConsole(app, s);
  registerInstanceLogs(app, s);
  registerInstanceFiles(app, s);
  const sftp = registerInstanceSftp(app, s);
  registerImages(app, s);
  registerImageAliases(app, s);
  registerImageRemote(app, s);
  registerImageExport(app, s);
  registerStreams(app, s);
  registerProfiles(app, s);
  registerProjects(app, s);
  registerStoragePools(app, s);
  registerNetworks(app, s);
  registerNetworkState(app, s);
  registerNetworkAllocations(app, s);
  registerNetworkForwards(app, s);
  registerRouteTable(app, routes);
  const opSockets = new OperationWebsocketUpgrade(s);
  // Upgraded sockets are invisible to the HTTP server's close: end them first.
  app.addHook('preClose', (done) => {
    events.closeAll();
    opSockets.closeAll();
    done();
  });
  const upgrades = [forwarder.upgrade, events.upgrade, opSockets.upgrade, sftp.upgrade];
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = requestUrl(req.url);
    const denied = checkAccess(callerOf(req, s.trust), 'GET', upgradeRoute(url.pathname), url, access) ?? fetchSiteDenied(req.headers);
    if (denied) {
      refuseUpgrade(socket, denied.status, denied.message);
      return;
    }
    for (const h of upgrades) if (h(req, socket, head)) return;
    socket.destroy();
  };
  forwarder.upgradeHere = (req, socket, head) => {
    for (const h of upgrades.slice(1)) if (h(req, socket, head)) return;
    socket.destroy();
  };
  return { app, upgrades, upgrade, routes };
}
