/** `POST /internal/recover/validate` and `/internal/recover/import` (Incus's `admin recover`). */
import type { FastifyInstance } from 'fastify';
import { runRecover, validateRecover } from '../../instance/recover';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';

interface RecoverBody {
  /** Pools to scan (Incus sends StoragePoolsPost objects); none: every pool. */
  pools?: { name: string }[];
}

const poolNames = (body: unknown): string[] => ((body ?? {}) as RecoverBody).pools?.map((p) => p.name) ?? [];

export function registerRecover(app: FastifyInstance, s: DaemonState): void {
  app.post('/internal/recover/validate', async (req) =>
    syncResponse({ unknown_volumes: await validateRecover(s.instances, poolNames(req.body)), dependency_errors: [] }),
  );
  app.post('/internal/recover/import', async (req) => syncResponse({ recovered: await runRecover(s.instances, poolNames(req.body)) }));
}
