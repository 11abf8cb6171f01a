/**
 * `POST /internal/recover/validate` and `/internal/recover/import` (Incus's
 * `admin recover`); with no pool named, every pool the database knows.
 * Beside Incus's fields, validate lists `partial_uploads`: image upload
 * files under images/ that no upload in flight owns (a client or daemon
 * killed mid-way). They hold partial data, so import removes them
 * (reported as `removed_partial_uploads`) rather than importing them.
 */
import type { FastifyInstance } from 'fastify';
import { type RecoverPool, runRecover, validateRecover } from '../../instance/recover';
import { badRequest } from '../../errors';
import { syncResponse } from '../../response';
import { validatePoolName } from '../../names';
import type { DaemonState } from '../../state';

/** The pools asked for, each name checked as Incus checks a pool's (none: every pool the database knows). */
function poolsOf(body: unknown): RecoverPool[] {
  const raw = ((body ?? {}) as { pools?: unknown }).pools;
  if (raw !== undefined && !Array.isArray(raw)) throw badRequest('Invalid request: "pools" must be a list');
  const pools: RecoverPool[] = [];
  for (const p of (raw ?? []) as Record<string, unknown>[]) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') throw badRequest('Invalid request: every pool needs a name');
    validatePoolName(p.name);
    const config = p.config && typeof p.config === 'object' ? Object.fromEntries(Object.entries(p.config).map(([k, v]) => [k, String(v)])) : undefined;
    pools.push({
      name: p.name,
      driver: typeof p.driver === 'string' && p.driver !== '' ? p.driver : undefined,
      description: typeof p.description === 'string' ? p.description : undefined,
      config,
    });
  }
  return pools;
}

export function registerRecover(app: FastifyInstance, s: DaemonState): void {
  app.post('/internal/recover/validate', async (req) => {
    const found = await validateRecover(s.instances, poolsOf(req.body));
    return syncResponse({
      unknown_volumes: found.volumes,
      dependency_errors: found.dependencyErrors,
      partial_uploads: await s.images.partialFiles(),
    });
  });
  app.post('/internal/recover/import', async (req) => {
    const done = await runRecover(s.instances, poolsOf(req.body));
    // With dependencies missing nothing changed: the answer is validate's (as Incus's).
    if (done.dependencyErrors.length > 0) return syncResponse({ unknown_volumes: done.volumes, dependency_errors: done.dependencyErrors });
    return syncResponse({ recovered: done.recovered, removed_partial_uploads: await s.images.removePartialFiles() });
  });
}
