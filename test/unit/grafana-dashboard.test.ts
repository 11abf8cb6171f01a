/**
 * grafana/incus.json is what lib/grafana/dashboard.ts builds, every metric
 * its PromQL queries use is a family /1.0/metrics exports
 * (lib/server/metrics/names.ts), and its LogQL selectors use only labels
 * our Loki entries carry.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardJson, dashboardQueries, metricNames } from '../../lib/grafana/dashboard';
import { lokiConfigOf } from '../../lib/server/loki/config';
import { toEntry } from '../../lib/server/loki/entry';
import { METRICS } from '../../lib/server/metrics/names';

const ROOT = join(__dirname, '..', '..', '..');

t.test('grafana/incus.json is up to date', async (t) => {
  t.equal(readFileSync(join(ROOT, 'grafana', 'incus.json'), 'utf8'), dashboardJson());
});

t.test('every PromQL query uses exported families', async (t) => {
  const exported = new Set(Object.values(METRICS).map((f) => f.name));
  const { promql } = dashboardQueries();
  t.ok(promql.length > 20, `${promql.length} PromQL queries`);
  const used = new Set(promql.flatMap(metricNames));
  for (const name of [...used].sort()) t.ok(exported.has(name), `${name} is exported`);
  t.ok(metricNames('topk(3, incus_a_total - incus_b)').length === 2, 'names are found in expressions');
});

t.test('every LogQL selector uses labels our Loki entries carry', async (t) => {
  const cfg = lokiConfigOf({ 'loki.api.url': 'http://127.0.0.1:1' })!;
  const now = new Date().toISOString();
  const life = toEntry(cfg, { type: 'lifecycle', timestamp: now, metadata: { action: 'instance-started', source: '/1.0/instances/c1', name: 'c1', project: 'default' } })!;
  const log = toEntry(cfg, { type: 'logging', timestamp: now, metadata: { message: 'x', level: 'error' } })!;
  const labels = new Set([...Object.keys(life.labels), ...Object.keys(log.labels)]);
  const { logql } = dashboardQueries();
  t.ok(logql.length >= 2, 'Loki panels');
  for (const q of logql) for (const m of q.matchAll(/([a-z_]+)=~?"/g)) t.ok(labels.has(m[1]!), `Loki label ${m[1]} exists (${q})`);
});
