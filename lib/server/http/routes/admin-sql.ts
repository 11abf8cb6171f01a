/**
 * `POST /internal/sql` (`incus admin sql`): statements against the global
 * database, for debugging and disaster recovery. This server keeps no
 * separate member-local database, so `local` is refused by name.
 */
import type { FastifyInstance } from 'fastify';
import { runAdminSql } from '../../db/admin-sql';
import { badRequest } from '../../errors';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';

const bodySchema = {
  type: 'object',
  properties: { database: { type: 'string' }, query: { type: 'string' } },
} as const;

export function registerAdminSql(app: FastifyInstance, s: DaemonState): void {
  app.post<{ Body: { database?: string; query?: string } }>('/internal/sql', { schema: { body: bodySchema } }, async (req) => {
    const { database = '', query = '' } = req.body ?? {};
    if (database !== 'local' && database !== 'global') throw badRequest('Invalid database');
    if (query === '') throw badRequest('No query provided');
    if (database === 'local') throw badRequest('This server has no member-local database: use "global"');
    // Every write reaches the file at once (no replication to wait for).
    if (query === '.sync') return syncResponse({ Results: [] });
    return syncResponse({ Results: await runAdminSql(s.db.engine, query) });
  });
}
