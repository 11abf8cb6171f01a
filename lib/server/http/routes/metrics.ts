/**
 * `GET /1.0/metrics`: instance and daemon metrics in the OpenMetrics text
 * format, served as Incus serves it (`text/plain`, gzip when the client
 * accepts it); `?project=` limits the instances to one project. Reachable
 * by untrusted callers at the HTTP layer (auth/access.ts lets it through):
 * this route decides who may read it (metrics/access.ts).
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { callerOf } from '../../auth/caller';
import { NOT_AUTHORIZED } from '../../auth/access';
import { forbidden } from '../../errors';
import { isTrue } from '../../instance/config-keys';
import { metricsAccess } from '../../metrics/access';
import { MetricsCollector } from '../../metrics/collect';
import { MetricSet } from '../../metrics/openmetrics';
import type { DaemonState } from '../../state';
import { query } from '../request';

const gzipP = promisify(gzip);

export function registerMetrics(app: FastifyInstance, s: DaemonState): void {
  const collector = new MetricsCollector(s);

  app.get('/1.0/metrics', async (req, reply) => {
    const q = query(req);
    const authentication = isTrue((await s.db.config.all())['core.metrics_authentication'] ?? 'true');
    const access = metricsAccess(callerOf(req.raw, s.trust), authentication, q.project || 'default');
    if (access === 'deny') throw forbidden(NOT_AUTHORIZED);
    const scrape = await collector.scrape(q.project ? q.project : null);
    const out = new MetricSet();
    if (access === 'all') out.merge(scrape.daemon);
    for (const [project, text] of scrape.instances) if (access === 'all' || access.projects.includes(project)) out.mergeText(text);
    const text = out.render();
    void reply.header('Content-Type', 'text/plain');
    if (String(req.headers['accept-encoding'] ?? '').includes('gzip')) {
      void reply.header('Content-Encoding', 'gzip');
      return gzipP(text);
    }
    return text;
  });
}
