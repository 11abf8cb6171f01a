/**
 * The Grafana dashboard for incusd's metrics and Loki events
 * (grafana/incus.json), built here so that its queries can be checked
 * against the metrics the daemon exports. Regenerate after a change:
 *   npx tsc -p tsconfig.json && node -e "process.stdout.write(require('./dist/lib/grafana/dashboard').dashboardJson())" > grafana/incus.json
 */

interface Target {
  expr: string;
  legendFormat?: string;
}

interface Panel {
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  [k: string]: unknown;
}

const PROM = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
const LOKI = { type: 'loki', uid: '${DS_LOKI}' };

/** Label matchers every query carries: the scrape job and the project (and the instance in its row). */
const SEL = 'job="$job",project="$project"';
const INST = `${SEL},name="$name"`;

let nextId = 1;
function panel(type: string, title: string, gridPos: Panel['gridPos'], targets: Target[], unit: string, extra: Record<string, unknown> = {}): Panel {
  return {
    id: nextId++,
    type,
    title,
    datasource: PROM,
    gridPos,
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: targets.map((t, i) => ({ datasource: PROM, refId: String.fromCharCode(65 + i), ...t })),
    ...extra,
  };
}

const row = (title: string, y: number): Panel => ({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });

/** Memory in use as Incus computes it for a container: total minus free minus page cache. */
const used = (sel: string): string => `incus_memory_MemTotal_bytes{${sel}} - incus_memory_MemFree_bytes{${sel}} - incus_memory_Cached_bytes{${sel}}`;

function overview(y: number): Panel[] {
  const top = (title: string, expr: string, unit: string, x: number, yy: number): Panel =>
    panel('bargauge', title, { h: 8, w: 8, x, y: yy }, [{ expr: `topk($top, ${expr})`, legendFormat: '{{name}}' }], unit, { options: { orientation: 'horizontal', displayMode: 'gradient' } });
  const stat = (title: string, expr: string, unit: string, x: number): Panel => panel('stat', title, { h: 4, w: 4, x, y }, [{ expr }], unit);
  return [
    stat('Instances', `count(incus_procs_total{${SEL}})`, 'none', 0),
    stat('Processes', `sum(incus_procs_total{${SEL}})`, 'none', 4),
    stat('Memory in use', `sum(${used(SEL)})`, 'bytes', 8),
    stat('Warnings', 'sum(incus_warnings_total{job="$job"})', 'none', 12),
    stat('Operations', 'sum(incus_operations_total{job="$job"})', 'none', 16),
    stat('Daemon uptime', 'max(incus_uptime_seconds{job="$job"})', 's', 20),
    top('Top $top instances by CPU', `sum by (name) (rate(incus_cpu_seconds_total{mode!="idle",${SEL}}[$__rate_interval]))`, 'percentunit', 0, y + 4),
    top('Top $top instances by memory', `sum by (name) (${used(SEL)})`, 'bytes', 8, y + 4),
    top('Top $top instances by rootfs usage', `sum by (name) (incus_filesystem_size_bytes{mountpoint="/",${SEL}} - incus_filesystem_avail_bytes{mountpoint="/",${SEL}})`, 'bytes', 16, y + 4),
    top('Top $top instances by network RX', `sum by (name) (rate(incus_network_receive_bytes_total{device!="lo",${SEL}}[$__rate_interval])) * 8`, 'bps', 0, y + 12),
    top('Top $top instances by network TX', `sum by (name) (rate(incus_network_transmit_bytes_total{device!="lo",${SEL}}[$__rate_interval])) * 8`, 'bps', 8, y + 12),
    top(
      'Top $top instances by disk I/O',
      `sum by (name) (rate(incus_disk_read_bytes_total{${SEL}}[$__rate_interval]) + rate(incus_disk_written_bytes_total{${SEL}}[$__rate_interval]))`,
      'Bps',
      16,
      y + 12,
    ),
  ];
}

function instance(y: number): Panel[] {
  const ts = (title: string, targets: Target[], unit: string, x: number, yy: number): Panel => panel('timeseries', title, { h: 8, w: 12, x, y: yy }, targets, unit);
  return [
    ts('CPU by mode', [{ expr: `sum by (mode) (rate(incus_cpu_seconds_total{mode!="idle",${INST}}[$__rate_interval]))`, legendFormat: '{{mode}}' }], 'percentunit', 0, y),
    ts(
      'Memory',
      [
        { expr: `sum(${used(INST)})`, legendFormat: 'used' },
        { expr: `sum(incus_memory_Cached_bytes{${INST}})`, legendFormat: 'cached' },
        { expr: `sum(incus_memory_MemTotal_bytes{${INST}})`, legendFormat: 'total' },
        { expr: `sum(incus_memory_Swap_bytes{${INST}})`, legendFormat: 'swap' },
      ],
      'bytes',
      12,
      y,
    ),
    ts('Processes', [{ expr: `incus_procs_total{${INST}}`, legendFormat: 'processes' }], 'none', 0, y + 8),
    ts(
      'Filesystem usage',
      [{ expr: `1 - incus_filesystem_avail_bytes{${INST}} / incus_filesystem_size_bytes{${INST}}`, legendFormat: '{{mountpoint}}' }],
      'percentunit',
      12,
      y + 8,
    ),
    ts(
      'Disk throughput',
      [
        { expr: `sum by (device) (rate(incus_disk_read_bytes_total{${INST}}[$__rate_interval]))`, legendFormat: 'read {{device}}' },
        { expr: `sum by (device) (rate(incus_disk_written_bytes_total{${INST}}[$__rate_interval]))`, legendFormat: 'write {{device}}' },
      ],
      'Bps',
      0,
      y + 16,
    ),
    ts(
      'Network traffic',
      [
        { expr: `sum by (device) (rate(incus_network_receive_bytes_total{device!="lo",${INST}}[$__rate_interval])) * 8`, legendFormat: 'rx {{device}}' },
        { expr: `sum by (device) (rate(incus_network_transmit_bytes_total{device!="lo",${INST}}[$__rate_interval])) * 8`, legendFormat: 'tx {{device}}' },
      ],
      'bps',
      12,
      y + 16,
    ),
  ];
}

function events(y: number): Panel[] {
  const logs = (title: string, expr: string, x: number): Panel => ({
    id: nextId++,
    type: 'logs',
    title,
    datasource: LOKI,
    gridPos: { h: 10, w: 12, x, y },
    targets: [{ datasource: LOKI, refId: 'A', expr }],
    options: { showTime: true, sortOrder: 'Descending', wrapLogMessage: true },
  });
  return [logs('Lifecycle events ($project)', '{app="incus",type="lifecycle",project="$project"}', 0), logs('Daemon log', '{app="incus",type="logging"}', 12)];
}

function variable(name: string, query: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, label: name, type: 'query', datasource: PROM, query: { query, refId: name }, refresh: 2, sort: 1, ...extra };
}

export function buildDashboard(): Record<string, unknown> {
  nextId = 1;
  let y = 0;
  const panels: Panel[] = [];
  panels.push(row('Project $project', y++));
  panels.push(...overview(y));
  y += 20;
  panels.push(row('Instance $name', y++));
  panels.push(...instance(y));
  y += 24;
  panels.push(row('Events', y++));
  panels.push(...events(y));
  return {
    __inputs: [
      { name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus' },
      { name: 'DS_LOKI', label: 'Loki', type: 'datasource', pluginId: 'loki' },
    ],
    title: 'Incus (incusd)',
    uid: 'incusd-overview',
    tags: ['incus'],
    editable: true,
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    panels,
    templating: {
      list: [
        variable('job', 'label_values(incus_procs_total, job)'),
        variable('project', 'label_values(incus_procs_total{job="$job"}, project)'),
        variable('name', 'label_values(incus_procs_total{job="$job",project="$project"}, name)'),
        { name: 'top', label: 'top', type: 'custom', query: '5,10,20', current: { text: '10', value: '10' } },
      ],
    },
  };
}

export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

/** Every PromQL and LogQL query of the dashboard (panels and variables). */
export function dashboardQueries(d: Record<string, unknown> = buildDashboard()): { promql: string[]; logql: string[] } {
  const promql: string[] = [];
  const logql: string[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      const loki = (p.datasource as { type?: string } | undefined)?.type === 'loki';
      for (const t of (p.targets as { expr: string }[] | undefined) ?? []) (loki ? logql : promql).push(t.expr);
      walk((p.panels as Panel[] | undefined) ?? []);
    }
  };
  walk(d.panels as Panel[]);
  for (const v of (d.templating as { list: { type: string; query: unknown }[] }).list) if (v.type === 'query') promql.push((v.query as { query: string }).query);
  return { promql, logql };
}

/** The metric names a PromQL expression uses (identifiers starting with incus_). */
export function metricNames(expr: string): string[] {
  return [...new Set(expr.match(/\bincus_[A-Za-z0-9_]+/g) ?? [])];
}
