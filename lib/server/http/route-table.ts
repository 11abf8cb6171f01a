/**
 * The registered route table, captured from fastify's onRoute hook while the
 * app is built, so that tests can walk every route the daemon really serves
 * (and a new route is covered without anyone listing it). Served as
 * `GET /internal/testing/routes` only when the daemon runs with
 * INCUS_TEST_HOOKS=1.
 */
import type { FastifyInstance } from 'fastify';
import { syncResponse } from '../response';

/** One registered route. */
export interface RouteEntry {
  method: string;
  /** fastify's pattern: `:name` parameters, `*` wildcards. */
  url: string;
  /** Names of the path parameters in order (`*` for a wildcard). */
  params: string[];
  /** The JSON schema of the body when the route declares one. */
  bodySchema: unknown;
}

function paramsOf(url: string): string[] {
  const out: string[] = [];
  for (const seg of url.split('/')) {
    if (seg.startsWith(':')) out.push(seg.slice(1));
    else if (seg === '*') out.push('*');
  }
  return out;
}

/**
 * Starts recording the routes registered on `app` from now on; call before
 * any route is added. Returns the list, filled as routes register.
 */
export function recordRoutes(app: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) {
      // fastify adds HEAD for every GET; it is the same handler.
      if (method === 'HEAD' && routes.some((x) => x.method === 'GET' && x.url === r.url)) continue;
      routes.push({ method, url: r.url, params: paramsOf(r.url), bodySchema: (r.schema as { body?: unknown } | undefined)?.body ?? null });
    }
  });
  return routes;
}

/** Registers `GET /internal/testing/routes` (test hooks only). */
export function registerRouteTable(app: FastifyInstance, routes: RouteEntry[]): void {
  if (process.env.INCUS_TEST_HOOKS !== '1') return;
  app.get('/internal/testing/routes', async () => syncResponse(routes));
}
