/** `/1.0/operations`: list, get, wait and cancel background operations. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { syncResponse } from '../../response';
import { NOT_AUTHORIZED } from '../../auth/access';
import { callerOf } from '../../auth/caller';
import { forbidden, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import { projectOrAll, query, recursionOf } from '../request';

export function registerOperations(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/operations', async (req) => {
    const ops = s.ops.list(await projectOrAll(s, req));
    const grouped: Record<string, unknown[]> = {};
    const full = recursionOf(req) > 0;
    for (const op of ops) {
      const key = op.status.toLowerCase();
      (grouped[key] ??= []).push(full ? op : `/1.0/operations/${op.id}`);
    }
    return syncResponse(grouped);
  });

  app.get<{ Params: { id: string } }>('/1.0/operations/:id', async (req) => {
    const op = s.ops.get(req.params.id);
    if (!op) throw notFound('Operation not found');
    return syncResponse(op);
  });

  app.get<{ Params: { id: string } }>('/1.0/operations/:id/wait', async (req) => {
    // An untrusted caller (a server that pushed an image) waits with the operation's secret.
    if (!callerOf(req.raw, s.trust).trusted) {
      const given = Buffer.from(query(req).secret ?? '');
      const secret = s.ops.get(req.params.id)?.metadata?.secret;
      const want = Buffer.from(typeof secret === 'string' ? secret : '');
      if (given.length === 0 || given.length !== want.length || !timingSafeEqual(given, want)) throw forbidden(NOT_AUTHORIZED);
    }
    const t = Number(query(req).timeout ?? '-1');
    const abort = new AbortController();
    req.raw.on('close', () => abort.abort());
    const op = await s.ops.wait(req.params.id, Number.isFinite(t) ? t : -1, abort.signal);
    return syncResponse(op);
  });

  app.delete<{ Params: { id: string } }>('/1.0/operations/:id', async (req) => {
    s.ops.cancel(req.params.id);
    return syncResponse({});
  });
}
