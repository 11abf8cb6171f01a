/**
 * Who may call what, decided before a route runs (fastify's onRequest hook,
 * and the upgrade dispatcher for websockets): Incus's AllowUntrusted
 * endpoints for callers without a trusted certificate, and the TLS
 * authorizer's rules (internal/server/auth/driver_tls.go) for restricted
 * certificates. Routes that only narrow what they return (public images,
 * the project list) read the caller themselves.
 */
import { StatusError } from '../errors';
import type { Caller } from './caller';

/** Incus's `response.Forbidden(nil)`. */
export const NOT_AUTHORIZED = 'not authorized';
const RESTRICTED = 'Certificate is restricted';

/**
 * Routes an untrusted caller may reach (fastify patterns). Each one
 * answers untrusted callers with public data only.
 */
const PUBLIC_ROUTES = new Set([
  'GET /',
  'GET /1.0',
  'POST /1.0/certificates',
  'GET /1.0/images',
  'GET /1.0/images/:fingerprint',
  'GET /1.0/images/:fingerprint/export',
  'GET /1.0/images/aliases/*',
  // An image pushed by another server, on a push token's secret (the route checks it).
  'POST /1.0/images',
  // Authenticated by the operation's secret, as in Incus.
  'GET /1.0/operations/:id/websocket',
  'GET /1.0/operations/:id/wait',
  // This daemon's public images as a simplestreams server.
  'GET /streams/v1/index.json',
  'GET /streams/v1/images.json',
  'GET /streams/images/:fingerprint/:file',
]);

/** Whether untrusted callers may reach the route (HEAD counts as GET). */
export function isPublicRoute(method: string, route: string): boolean {
  return PUBLIC_ROUTES.has(`${method === 'HEAD' ? 'GET' : method} ${route}`);
}

/** What the checks need besides the caller and the request line. */
export interface AccessContext {
  /** The project of a running operation, or undefined when there is none. */
  operationProject(id: string): string | undefined;
}

const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';
const denyProject = (p: string): StatusError => new StatusError(403, `User does not have permission for project ${JSON.stringify(p)}`);

/**
 * null when the caller may go on, else the 403 to answer.
 * @param route fastify's pattern for the request, or undefined when no route matches (its 404 is harmless).
 */
export function checkAccess(caller: Caller, method: string, route: string | undefined, url: URL, ctx: AccessContext): StatusError | null {
  if (caller.protocol === 'unix') return null;
  // Internal endpoints are for the local CLI and cluster members only.
  if (route?.startsWith('/internal/') || url.pathname.replace(/\/{2,}/g, '/').startsWith('/internal/')) {
    return route?.startsWith('/internal/cluster/') && caller.certificate?.type === 'server' ? null : new StatusError(403, NOT_AUTHORIZED);
  }
  if (route === undefined) return null;
  // Untrusted callers and metrics certificates included: the route decides (metrics/access.ts).
  if (route === '/1.0/metrics') return null;
  if (!caller.trusted) return isPublicRoute(method, route) ? null : new StatusError(403, NOT_AUTHORIZED);
  if (caller.projects === null) return null;
  return restrictedProblem(caller.projects, method, route, url, ctx);
}

function restrictedProblem(allowed: string[], method: string, route: string, url: URL, ctx: AccessContext): StatusError | null {
  if (url.searchParams.get('all-projects') === 'true') return new StatusError(403, RESTRICTED);
  const project = url.searchParams.get('project') || 'default';
  const seg = route.split('/');
  // Server-wide objects: viewing is fine, changing them is not.
  if (route === '/' || route === '/1.0' || route === '/1.0/resources' || route.startsWith('/1.0/cluster')) return isRead(method) ? null : new StatusError(403, RESTRICTED);
  // The certificate routes decide themselves (a restricted client may edit only its own entry).
  if (route.startsWith('/1.0/certificates')) return null;
  // Warnings are the server's (Incus: can_view_warnings on the server): not for a restricted client.
  if (route.startsWith('/1.0/warnings')) return new StatusError(403, RESTRICTED);
  if (route.startsWith('/1.0/storage-pools') && seg[4] !== 'volumes') return isRead(method) ? null : new StatusError(403, RESTRICTED);
  if (route === '/1.0/projects') return isRead(method) ? null : new StatusError(403, RESTRICTED);
  if (route.startsWith('/1.0/projects/:name')) {
    const name = decodeURIComponent(url.pathname.split('/')[3] ?? '');
    if (!isRead(method)) return new StatusError(403, RESTRICTED);
    return allowed.includes(name) ? null : denyProject(name);
  }
  if (route.startsWith('/1.0/operations/:id')) {
    const opProject = ctx.operationProject(decodeURIComponent(url.pathname.split('/')[3] ?? ''));
    if (opProject === undefined) return null;
    return allowed.includes(opProject) ? null : denyProject(opProject);
  }
  return allowed.includes(project) ? null : denyProject(project);
}

/**
 * The request target as a URL; a target that does not parse (absolute-form
 * junk) reads as `/`, which no check relies on.
 */
export function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target?.startsWith('/') ? `http://x${target}` : 'http://x/');
  } catch {
    return new URL('http://x/');
  }
}

/** fastify-style pattern for a websocket upgrade path (upgrades bypass the router). */
export function upgradeRoute(pathname: string): string | undefined {
  if (/^\/1\.0\/operations\/[^/]+\/websocket\/?$/.test(pathname)) return '/1.0/operations/:id/websocket';
  if (/^\/1\.0\/events\/?$/.test(pathname)) return '/1.0/events';
  if (/^\/1\.0\/instances\/[^/]+\/sftp\/?$/.test(pathname)) return '/1.0/instances/:name/sftp';
  return undefined;
}
