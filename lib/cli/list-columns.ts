/** `incus list -c` columns: Incus's shorthand letters and custom config/device columns. */
import type { InstanceFull } from '../api/instance';
import { StatusCode } from '../api/response';
import { formatDate } from './format/date';
import { byteSizeIEC } from './format/units';

/** Incus default: name, state, IPv4, IPv6, type, snapshots, location (cluster only). */
export const DEFAULT_COLUMNS = 'ns46tSL';
/** The default with the project first (`--all-projects`). */
export const DEFAULT_COLUMNS_ALL_PROJECTS = 'ens46tSL';
/** `--fast`: columns that need no state. */
export const FAST_COLUMNS = 'nsacPt';

/** Rendering options shared by all columns. */
export interface ColumnOptions {
  /** `--format ...,raw`: plain byte counts. */
  raw: boolean;
}

/** One `incus list` column: header and how to get the cell. */
export interface Column {
  name: string;
  data: (inst: InstanceFull, opts: ColumnOptions) => string;
  needsState: boolean;
  needsSnapshots: boolean;
}

/** Instance.IsActive(): anything but Stopped and Error. */
export function isActive(inst: Pick<InstanceFull, 'status_code'>): boolean {
  return inst.status_code !== StatusCode.Stopped && inst.status_code !== StatusCode.Error;
}

function addresses(inst: InstanceFull, family: 'inet' | 'inet6'): string {
  if (!isActive(inst) || !inst.state?.network) return '';
  const out: string[] = [];
  for (const [dev, net] of Object.entries(inst.state.network)) {
    if (net.type === 'loopback') continue;
    for (const a of net.addresses ?? []) {
      if (a.scope === 'link' || a.scope === 'local') continue;
      if (a.family === family) out.push(`${a.address} (${dev})`);
    }
  }
  return out.sort().reverse().join('\n');
}

function instanceType(inst: InstanceFull): string {
  let t = (inst.type || 'container').toUpperCase();
  if (['true', '1', 'yes', 'on'].includes((inst.expanded_config?.['volatile.container.oci'] ?? '').toLowerCase())) {
    t += ' (APP)';
  }
  if (inst.ephemeral) t += ' (EPHEMERAL)';
  return t;
}

function bytes(n: number, opts: ColumnOptions): string {
  return opts.raw ? String(n) : byteSizeIEC(n);
}

type Entry = [name: string, data: Column['data'], needsState: boolean, needsSnapshots: boolean];

const SHORTHAND: Record<string, Entry> = {
  '4': ['IPV4', (i) => addresses(i, 'inet'), true, false],
  '6': ['IPV6', (i) => addresses(i, 'inet6'), true, false],
  a: ['ARCHITECTURE', (i) => i.architecture, false, false],
  b: [
    'STORAGE POOL',
    (i) => Object.values(i.expanded_devices ?? {}).find((d) => d.type === 'disk' && d.path === '/')?.pool ?? '',
    false,
    false,
  ],
  c: ['CREATED AT', (i) => formatDate(i.created_at), false, false],
  d: ['DESCRIPTION', (i) => i.description, false, false],
  D: [
    'DISK USAGE',
    (i, o) => {
      const root = Object.entries(i.expanded_devices ?? {}).find(([, d]) => d.type === 'disk' && d.path === '/')?.[0] ?? '';
      const usage = i.state?.disk?.[root]?.usage ?? 0;
      return usage > 0 ? bytes(usage, o) : '';
    },
    true,
    false,
  ],
  e: ['PROJECT', (i) => i.project, false, false],
  f: ['BASE IMAGE', (i) => (i.config?.['volatile.base_image'] ?? '').slice(0, 12), false, false],
  F: ['BASE IMAGE', (i) => i.config?.['volatile.base_image'] ?? '', false, false],
  l: ['LAST USED AT', (i) => formatDate(i.last_used_at), false, false],
  m: [
    'MEMORY USAGE',
    (i, o) => (isActive(i) && (i.state?.memory?.usage ?? 0) > 0 ? bytes(i.state!.memory.usage, o) : ''),
    true,
    false,
  ],
  n: ['NAME', (i) => i.name, false, false],
  N: ['PROCESSES', (i) => (isActive(i) && i.state ? String(i.state.processes) : ''), true, false],
  p: ['PID', (i) => (isActive(i) && i.state ? String(i.state.pid) : ''), true, false],
  P: ['PROFILES', (i) => (i.profiles ?? []).join('\n'), false, false],
  s: ['STATE', (i) => (i.status ?? '').toUpperCase(), false, false],
  S: ['SNAPSHOTS', (i) => String(i.snapshots?.length ?? 0), false, true],
  t: ['TYPE', instanceType, false, false],
  u: [
    'CPU USAGE',
    (i) => (isActive(i) && (i.state?.cpu?.usage ?? 0) > 0 ? `${Math.floor(i.state!.cpu.usage / 1e9)}s` : ''),
    true,
    false,
  ],
  U: ['STARTED AT', (i) => formatDate(i.state?.started_at), true, false],
};

const LOCATION: Entry = ['LOCATION', (i) => i.location, false, false];

function fromEntry([name, data, needsState, needsSnapshots]: Entry): Column {
  return { name, data, needsState, needsSnapshots };
}

/** A `[config:|devices:]key[:name][:maxWidth]` column. */
function customColumn(entry: string): Column {
  let parts = entry.split(':');
  let kind: 'config' | 'devices' = 'config';
  if ((parts[0] === 'config' || parts[0] === 'devices') && parts.length > 1) {
    kind = parts[0];
    parts = parts.slice(1);
  }
  if (parts.length > 3) throw new Error(`Invalid config key column format (too many fields): '${entry}'`);
  const key = parts[0]!;
  let name = key;
  if (parts.length > 1) {
    if (parts[1] === '' && parts.length !== 3) {
      throw new Error(`Invalid name in '${entry}', empty string is only allowed when defining maxWidth`);
    }
    name = parts[1]!;
  }
  let maxWidth = -1;
  if (parts.length > 2) {
    const raw = parts[2]!;
    if (!/^-?\d+$/.test(raw)) throw new Error(`Invalid max width (must be an integer) '${raw}' in '${entry}'`);
    const n = Number.parseInt(raw, 10);
    if (n < -1) throw new Error(`Invalid max width (must -1, 0 or a positive integer) '${raw}' in '${entry}'`);
    maxWidth = n === 0 ? name.length : n;
  }
  const cut = (v: string) => (maxWidth > 0 && v.length > maxWidth ? v.slice(0, maxWidth) : v);
  const data =
    kind === 'config'
      ? (i: InstanceFull) => cut(i.config?.[key] ?? i.expanded_config?.[key] ?? '')
      : (i: InstanceFull) => {
          const d = key.split('.');
          if (d.length !== 2) return '';
          const [dev, k] = d as [string, string];
          return cut(i.devices?.[dev]?.[k] ?? i.expanded_devices?.[dev]?.[k] ?? '');
        };
  return { name, data, needsState: false, needsSnapshots: false };
}

/** Result of {@link parseColumns}. */
export interface ParsedColumns {
  columns: Column[];
  /** Some column needs state or snapshots (list with recursion=2). */
  needsData: boolean;
}

/**
 * Parses a `-c` value the way Incus does: comma-separated entries, each
 * either shorthand letters or (when it contains a dot) a custom column.
 * `L` is only valid on a cluster and is dropped from the default layouts
 * otherwise.
 */
export function parseColumns(spec: string, clustered: boolean): ParsedColumns {
  const columns: Column[] = [];
  for (let entry of spec.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${spec}'`);
    if (entry.includes('.')) {
      columns.push(customColumn(entry));
      continue;
    }
    if (!clustered) {
      if (entry !== DEFAULT_COLUMNS && entry !== DEFAULT_COLUMNS_ALL_PROJECTS && entry.includes('L')) {
        throw new Error("Can't specify column L when not clustered");
      }
      entry = entry.replaceAll('L', '');
    }
    for (const ch of entry) {
      const e = ch === 'L' ? LOCATION : SHORTHAND[ch];
      if (!e) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      columns.push(fromEntry(e));
    }
  }
  return { columns, needsData: columns.some((c) => c.needsState || c.needsSnapshots) };
}
