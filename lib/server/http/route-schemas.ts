/**
 * Gives every route that takes a JSON body and declares no schema the one
 * lib/api/body-schemas.ts holds for it, at registration (fastify's onRoute
 * hook), so type checks cannot be forgotten route by route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { routeBodySchemas } from '../../api/body-schemas';

async function emptyAsObject(req: FastifyRequest): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

/** Installs the hook; call before any route is registered. */
export function attachBodySchemas(app: FastifyInstance): void {
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      const body = routeBodySchemas[`${m} ${r.url}`];
      if (!body || (r.schema as { body?: unknown } | undefined)?.body) continue;
      r.schema = { ...(r.schema ?? {}), body };
      // These routes always took a missing body as an empty one; keep that.
      const prev = r.preValidation === undefined ? [] : Array.isArray(r.preValidation) ? r.preValidation : [r.preValidation];
      r.preValidation = [emptyAsObject, ...prev];
    }
  });
}
