/**
 * `/1.0/warnings` and `/1.0/warnings/{uuid}`: list (recursion, `project`,
 * `filter`), get, PUT/PATCH the status (`new` or `acknowledged` only, as
 * Incus allows), DELETE.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WarningPut } from '../../../api/warning';
import { badRequest, forbidden, notFound } from '../../errors';
import { syncResponse } from '../../response';
import type { Queries } from '../../db';
import type { DaemonState } from '../../state';
import { WarningStatus } from '../../warnings/types';
import { warningUrl } from '../../warnings/warnings';
import { matchFilter, parseFilter } from '../filter';
import { checkIfMatch, query, recursionOf, setEtag } from '../request';

type UuidParams = { Params: { uuid: string } };

const putSchema = { type: 'object', properties: { status: { type: 'string' } } } as const;

export function registerWarnings(app: FastifyInstance, s: DaemonState): void {
  const w = s.warnings;
  const find = async (db: Queries, uuid: string) => {
    const row = await db.warnings.get(uuid);
    if (!row) throw notFound('Warning not found');
    return row;
  };

  app.get('/1.0/warnings', async (req) => {
    const q = query(req);
    const filter = q.filter ? parseFilter(q.filter) : null;
    const project = typeof q.project === 'string' && q.project !== '' ? q.project : undefined;
    const all = (await s.db.warnings.list(project))
      .map((r) => w.toApi(r))
      .filter((x) => !filter || matchFilter(filter, x));
    return syncResponse(recursionOf(req) > 0 ? all : all.map((x) => warningUrl(x.uuid)));
  });

  app.get<UuidParams>('/1.0/warnings/:uuid', async (req, reply) => {
    const warning = w.toApi(await find(s.db, req.params.uuid));
    setEtag(reply, [warning.status]);
    return syncResponse(warning);
  });

  const update = async (req: FastifyRequest<UuidParams>) => {
    // The If-Match check and the write in one transaction.
    const { uuid, status } = await s.db.transaction(async (tx) => {
      const row = await find(tx, req.params.uuid);
      checkIfMatch(req, [w.toApi(row).status]);
      const status = ((req.body ?? {}) as Partial<WarningPut>).status ?? '';
      if (!(status in WarningStatus)) throw badRequest(`Invalid warning type "${status}"`);
      if (status !== 'new' && status !== 'acknowledged') throw forbidden('Status may only be set to "acknowledge" or "new"');
      await tx.warnings.setStatus(row.uuid, WarningStatus[status]);
      return { uuid: row.uuid, status };
    });
    w.changed(status === 'acknowledged' ? 'warning-acknowledged' : 'warning-reset', uuid);
    return syncResponse({});
  };
  app.put<UuidParams>('/1.0/warnings/:uuid', { schema: { body: putSchema } }, update);
  app.patch<UuidParams>('/1.0/warnings/:uuid', { schema: { body: putSchema } }, update);

  app.delete<UuidParams>('/1.0/warnings/:uuid', async (req) => {
    const row = await find(s.db, req.params.uuid);
    await s.db.warnings.delete(row.uuid);
    w.changed('warning-deleted', row.uuid);
    return syncResponse({});
  });
}
