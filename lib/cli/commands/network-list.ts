/** `incus network list`, `list-leases` and `list-allocations`: columns and formats as Incus has them. */
import type { Network, NetworkAllocation, NetworkLease } from '../../api/network';
import type { CliContext } from '../context';
import { map, struct, type Shape } from '../format/go-order';
import { orderKeys } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';

/** `list` / `list-leases` options. */
export interface NetworkListFlags {
  columns: string;
  format: string;
  allProjects?: boolean;
  /** `list-allocations --summary`: used ranges per subnet. */
  summary?: boolean;
}

/** Incus's default columns: name, type, managed, IPv4, IPv6, description, used by, state. */
export const DEFAULT_NETWORK_COLUMNS = 'ntm46dus';
/** The same with the project first (`--all-projects`). */
const DEFAULT_ALL_PROJECTS_COLUMNS = 'entm46dus';
/** Hostname, MAC address, IP address, type. */
export const DEFAULT_LEASE_COLUMNS = 'hmit';
/** Used by, address, network, type, NAT, MAC address. */
export const DEFAULT_ALLOCATION_COLUMNS = 'uaNtnm';

/** api.Network in Go's field order. */
export const networkShape: Shape = struct([
  ['config', map()],
  ['description', null],
  ['name', null],
  ['type', null],
  ['used_by', null],
  ['managed', null],
  ['status', null],
  ['locations', null],
  ['project', null],
]);

const leaseShape: Shape = struct([
  ['hostname', null],
  ['hwaddr', null],
  ['address', null],
  ['type', null],
  ['location', null],
]);

const allocationShape: Shape = struct([
  ['addresses', null],
  ['hwaddr', null],
  ['nat', null],
  ['type', null],
  ['used_by', null],
  ['network', null],
]);

type Column<T> = [name: string, data: (x: T) => string];

const NETWORK_COLUMNS: Record<string, Column<Network>> = {
  e: ['PROJECT', (n) => n.project],
  n: ['NAME', (n) => n.name],
  t: ['TYPE', (n) => n.type],
  m: ['MANAGED', (n) => (n.managed ? 'YES' : 'NO')],
  '4': ['IPV4', (n) => n.config?.['ipv4.address'] ?? ''],
  '6': ['IPV6', (n) => n.config?.['ipv6.address'] ?? ''],
  d: ['DESCRIPTION', (n) => n.description],
  u: ['USED BY', (n) => String((n.used_by ?? []).length)],
  s: ['STATE', (n) => (n.status ?? '').toUpperCase()],
};

const LEASE_COLUMNS: Record<string, Column<NetworkLease>> = {
  h: ['HOSTNAME', (l) => l.hostname],
  m: ['MAC ADDRESS', (l) => l.hwaddr],
  i: ['IP ADDRESS', (l) => l.address],
  t: ['TYPE', (l) => (l.type ?? '').toUpperCase()],
  L: ['LOCATION', (l) => l.location],
};

const ALLOCATION_COLUMNS: Record<string, Column<NetworkAllocation>> = {
  u: ['USED BY', (a) => a.used_by],
  a: ['ADDRESS', (a) => a.addresses],
  N: ['NETWORK', (a) => a.network],
  t: ['TYPE', (a) => a.type],
  n: ['NAT', (a) => (a.nat ? 'YES' : 'NO')],
  m: ['MAC ADDRESS', (a) => a.hwaddr],
};

/** Parses a `-c` value against a shorthand table. */
export function parseColumns<T>(spec: string, table: Record<string, Column<T>>): Column<T>[] {
  const out: Column<T>[] = [];
  for (const entry of spec.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${spec}'`);
    for (const ch of entry) {
      const c = table[ch];
      if (!c) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      out.push(c);
    }
  }
  return out;
}

/** Whether a network passes every filter (`key=value` on name/type/description/config.KEY, or a name prefix). */
export function matchNetwork(n: Network, filters: readonly string[]): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return n.name.startsWith(f);
    const key = f.slice(0, eq);
    const want = f.slice(eq + 1);
    const value = key.startsWith('config.') ? n.config?.[key.slice('config.'.length)] : (n as unknown as Record<string, unknown>)[key];
    return typeof value === 'string' && value === want;
  });
}

function render<T>(ctx: CliContext, flags: NetworkListFlags, table: Record<string, Column<T>>, items: T[], shape: Shape): void {
  const spec = parseFormat(flags.format);
  const columns = parseColumns(flags.columns, table);
  const rows = sortRowsNaturally(items.map((x) => columns.map(([, data]) => data(x))));
  ctx.out(renderList(spec, columns.map(([n]) => n), rows, items.map((x) => orderKeys(x, shape))));
}

export async function listNetworks(ctx: CliContext, filters: string[], flags: NetworkListFlags): Promise<number> {
  const { getNetworks } = require('../../client/networks') as typeof import('../../client/networks');
  const all = await getNetworks(ctx.client(), { allProjects: flags.allProjects });
  const picked = all.filter((n) => matchNetwork(n, filters.flatMap((f) => f.split(','))));
  const columns = flags.allProjects && flags.columns === DEFAULT_NETWORK_COLUMNS ? DEFAULT_ALL_PROJECTS_COLUMNS : flags.columns;
  render(ctx, { ...flags, columns }, NETWORK_COLUMNS, picked, networkShape);
  return 0;
}

export async function listLeases(ctx: CliContext, name: string, flags: NetworkListFlags): Promise<number> {
  const { getNetworkLeases } = require('../../client/networks') as typeof import('../../client/networks');
  render(ctx, flags, LEASE_COLUMNS, await getNetworkLeases(ctx.client(), name), leaseShape);
  return 0;
}

export async function listAllocations(ctx: CliContext, flags: NetworkListFlags): Promise<number> {
  const { getNetworkAllocations } = require('../../client/networks') as typeof import('../../client/networks');
  const allocations = await getNetworkAllocations(ctx.client(), { allProjects: flags.allProjects });
  if (!flags.summary) {
    render(ctx, flags, ALLOCATION_COLUMNS, allocations, allocationShape);
    return 0;
  }
  if (flags.columns !== DEFAULT_ALLOCATION_COLUMNS) throw new Error('The --summary flag cannot be used with custom columns (-c)');
  const { summarizeAllocations } = require('./network-allocations-summary') as typeof import('./network-allocations-summary');
  const rows = summarizeAllocations(allocations);
  ctx.out(renderList(parseFormat(flags.format), ['NETWORK', 'SUBNET', 'USED'], rows.map((r) => [r.network, r.subnet, r.used]), rows));
  return 0;
}
