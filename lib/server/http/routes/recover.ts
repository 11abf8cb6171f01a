/**
 * `POST /internal/recover/validate` and `/internal/recover/import` (Incus's
 * `admin recover`). Beside Incus's fields, validate lists `partial_uploads`:
 * image upload files under images/ that no upload in flight owns (a client
 * or daemon killed mid-way). They hold partial data, so import removes them
 * (reported as `removed_partial_uploads`) rather than importing them.
 */
import type { FastifyInstance } from 'fastify';
import { runRecover, validateRecover } from '../../instance/recover';
import { syncResponse } from '../../response';
import { validatePoolName } from '../../names';
import type { DaemonState } from '../../state';

interface RecoverBody {
  /** Pools to scan (Incus sends StoragePoolsPost objects); none: every pool. */
  pools?: { name: string }[];
}

/** The pools asked for, each name checked as Incus checks a pool's (the body's types are checked by its schema). */
function poolNames(body: unknown): string[] {
  const names = ((body ?? {}) as RecoverBody).pools?.map((p) => p.name) ?? [];
  for (const n of names) validatePoolName(n);
  return names;
}

export function registerRecover(app: FastifyInstance, s: DaemonState): void {
  app.post('/internal/recover/validate', async (req) => {
    const found = await validateRecover(s.instances, poolNames(req.body));
    return syncResponse({
      unknown_volumes: found.volumes,
      dependency_errors: found.dependencyErrors,
      partial_uploads: await s.images.partialFiles(),
    });
  });
  app.post('/internal/recover/import', async (req) =>
    syncResponse({
      recovered: await runRecover(s.instances, poolNames(req.body)),
      removed_partial_uploads: await s.images.removePartialFiles(),
    }),
  );
}
