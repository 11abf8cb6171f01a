/**
 * What the request's project lets it see of the global resources (Incus's
 * NetworkAllowed and HiddenStoragePools): a restricted project sees only the
 * networks its restricted.devices.nic and restricted.networks.access allow,
 * and no pool its restricted.storage-pools.access leaves out or that has a
 * limits.disk.pool.NAME of 0. Hidden ones answer 404, as if absent.
 */
import type { FastifyRequest } from 'fastify';
import { notFound, StatusError } from '../errors';
import { networkAllowed, storagePoolAllowed } from '../projects/restrictions';
import type { DaemonState } from '../state';
import { projectOf, query } from './request';

/** Whether the request's project may see network `name` (a 404 "Network not found" when not, from `require`). */
export async function networkAccess(s: DaemonState, req: FastifyRequest): Promise<{ allowed: (name: string, managed: boolean) => boolean; require: (name: string, managed: boolean) => void }> {
  const { config } = await s.projects.get(await projectOf(s, req));
  const allowed = (name: string, managed: boolean): boolean => networkAllowed(config, name, managed);
  return {
    allowed,
    require: (name, managed) => {
      if (!allowed(name, managed)) throw notFound('Network not found');
    },
  };
}

/** Refuses creating a network the request's project could not use (Incus: 403). */
export async function requireNetworkCreatable(s: DaemonState, req: FastifyRequest, name: string): Promise<void> {
  const { config } = await s.projects.get(await projectOf(s, req));
  if (!networkAllowed(config, name, true)) throw new StatusError(403, 'Network not allowed in project');
}

/** The pools hidden from the request's `project` parameter; an unknown project hides none (Incus lists the pools then). */
export async function hiddenPools(s: DaemonState, req: FastifyRequest): Promise<(pool: string) => boolean> {
  const rec = await s.db.projects.get(query(req).project || 'default');
  const config = rec?.config ?? {};
  return (pool) => !storagePoolAllowed(config, pool);
}
