/** `GET /1.0/resources`: the host's hardware (lib/server/resources). */
import type { FastifyInstance } from 'fastify';
import { syncResponse } from '../../response';
import { ResourcesReader } from '../../resources/reader';

/** Registers the route; `reader` is replaceable so tests can point it at fixtures. */
export function registerResources(app: FastifyInstance, reader: ResourcesReader = new ResourcesReader()): void {
  app.get('/1.0/resources', async () => syncResponse(await reader.get()));
}
