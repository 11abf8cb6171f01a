/** `incus info [NAME]`: server information as YAML (or its hardware with --resources), or one instance. */
import type { Command } from 'commander';
import type { InstanceFull } from '../../api/instance';
import type { Server } from '../../api/server';
import type { CliContext } from '../context';
import { formatDate, isZeroTime } from '../format/date';
import { orderKeys } from '../format/go-order';
import { serverShape } from '../format/shapes';
import { renderTable } from '../format/table';
import { byteSizeIEC, byteSizeSI } from '../format/units';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';

/** `incus info` options. */
export interface InfoFlags {
  resources?: boolean;
  showLog?: string | boolean;
  showSensitive?: boolean;
}

const SENSITIVE_KEYS = new Set(['acme.eab.kid', 'acme.provider.environment', 'oidc.client.id']);

/** Incus hides config values whose last key segment looks like a secret. */
export function isConfigKeySensitive(key: string): boolean {
  if (SENSITIVE_KEYS.has(key)) return true;
  const segment = key.slice(key.lastIndexOf('.') + 1);
  return ['key', 'cert', 'hmac', 'password', 'secret', 'token'].some((s) => segment.endsWith(s));
}

/**
 * The server as `incus info` shows it unless --show-sensitive: no full
 * certificate, an extension count instead of the list, secrets censored.
 */
export function filterServer(server: Server): Record<string, unknown> {
  const out: Record<string, unknown> = { ...server };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(server.config ?? {})) config[k] = v !== '' && isConfigKeySensitive(k) ? 'SENSITIVE' : v;
  out.config = config;
  const count = server.api_extensions?.length ?? 0;
  delete out.api_extensions;
  if (count > 0) out.api_extensions_count = count;
  if (server.environment) out.environment = { ...server.environment, certificate: '' };
  return out;
}

/** Go's yaml lower-cases untagged fields, so the storage driver list reads name/version/remote. */
function yamlServer(value: Record<string, unknown>): unknown {
  const env = value.environment as Record<string, unknown> | undefined;
  const drivers = env?.storage_supported_drivers;
  if (!Array.isArray(drivers)) return value;
  const lowered = drivers.map((d: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(d).map(([k, v]) => [k.toLowerCase(), v])),
  );
  return { ...value, environment: { ...env, storage_supported_drivers: lowered } };
}

async function serverInfo(ctx: CliContext, flags: InfoFlags): Promise<number> {
  const server = await ctx.client().getServer();
  if (flags.resources) {
    if (!(server.api_extensions ?? []).includes('resources_v2')) throw new Error("The server doesn't implement the newer v2 resources API");
    const { getServerResources } = require('../../client/resources') as typeof import('../../client/resources');
    const { renderResources } = require('../format/resources') as typeof import('../format/resources');
    ctx.out(renderResources(await getServerResources(ctx.client())));
    return 0;
  }
  const shown = flags.showSensitive ? { ...server } : filterServer(server);
  ctx.out(renderYaml(yamlServer(orderKeys(shown, serverShape) as Record<string, unknown>)));
  if (server.auth === 'trusted' && (server.api_extensions ?? []).includes('warnings')) await noteNewWarnings(ctx);
  return 0;
}

/**
 * The count of new (unacknowledged) warnings, on stderr so that stdout stays
 * the YAML that scripts parse; nothing when there are none.
 */
async function noteNewWarnings(ctx: CliContext): Promise<void> {
  const { getWarnings } = require('../../client/warnings') as typeof import('../../client/warnings');
  const fresh = (await getWarnings(ctx.client())).filter((w) => w.status === 'new').length;
  if (fresh > 0) ctx.err(`WARNING: ${fresh} new warning${fresh === 1 ? '' : 's'} (see "incus warning list")\n`);
}

/** The instance part of `incus info NAME`, as text. */
export function renderInstanceInfo(inst: InstanceFull): string {
  const lines: string[] = [];
  const p = (s: string) => lines.push(s);
  p(`Name: ${inst.name}`);
  p(`Description: ${inst.description ?? ''}`);
  p(`Status: ${(inst.status ?? '').toUpperCase()}`);
  let type = inst.type || 'container';
  if (['true', '1', 'yes', 'on'].includes((inst.expanded_config?.['volatile.container.oci'] ?? '').toLowerCase())) {
    type += ' (application)';
  }
  if (inst.ephemeral) type += ' (ephemeral)';
  p(`Type: ${type}`);
  p(`Architecture: ${inst.architecture}`);
  const state = inst.state;
  const pid = state?.pid ?? 0;
  if (pid !== 0) p(`PID: ${pid}`);
  if (!isZeroTime(inst.created_at)) p(`Created: ${formatDate(inst.created_at)}`);
  if (!isZeroTime(inst.last_used_at)) p(`Last Used: ${formatDate(inst.last_used_at)}`);
  if (state && pid !== 0) {
    if (!isZeroTime(state.started_at)) p(`Started: ${formatDate(state.started_at)}`);
    p('');
    p('Resources:');
    p(`  Processes: ${state.processes}`);
    if (state.accelerator) p(`  Accelerator: ${state.accelerator}`);
    const disks = Object.keys(state.disk ?? {})
      .sort()
      .filter((d) => (state.disk![d]!.usage ?? 0) > 0);
    if (disks.length > 0) {
      p('  Disk usage:');
      for (const d of disks) p(`    ${d}: ${byteSizeIEC(state.disk![d]!.usage)}`);
    }
    if ((state.cpu?.usage ?? 0) !== 0) {
      p('  CPU usage:');
      p(`    CPU usage (in seconds): ${Math.floor(state.cpu.usage / 1e9)}`);
    }
    const mem = state.memory;
    const memLines: string[] = [];
    if (mem?.usage) memLines.push(`    Memory (current): ${byteSizeIEC(mem.usage)}`);
    if (mem?.usage_peak) memLines.push(`    Memory (peak): ${byteSizeIEC(mem.usage_peak)}`);
    if (mem?.swap_usage) memLines.push(`    Swap (current): ${byteSizeIEC(mem.swap_usage)}`);
    if (mem?.swap_usage_peak) memLines.push(`    Swap (peak): ${byteSizeIEC(mem.swap_usage_peak)}`);
    if (memLines.length > 0) {
      p('  Memory usage:');
      lines.push(...memLines);
    }
    const nets = Object.keys(state.network ?? {}).sort();
    if (nets.length > 0) {
      p('  Network usage:');
      for (const n of nets) {
        const net = state.network![n]!;
        const c = net.counters ?? {};
        p(`    ${n}:`);
        p(`      Type: ${net.type}`);
        p(`      State: ${(net.state ?? '').toUpperCase()}`);
        if (net.host_name) p(`      Host interface: ${net.host_name}`);
        if (net.hwaddr) p(`      MAC address: ${net.hwaddr}`);
        if (net.mtu) p(`      MTU: ${net.mtu}`);
        p(`      Bytes received: ${byteSizeSI(c.bytes_received ?? 0)}`);
        p(`      Bytes sent: ${byteSizeSI(c.bytes_sent ?? 0)}`);
        p(`      Packets received: ${c.packets_received ?? 0}`);
        p(`      Packets sent: ${c.packets_sent ?? 0}`);
        p('      IP addresses:');
        for (const a of net.addresses ?? []) {
          p(`        ${a.family}:${a.family === 'inet' ? '  ' : ' '}${a.address}/${a.netmask} (${a.scope})`);
        }
      }
    }
  }
  let text = lines.join('\n') + '\n';
  const snaps = (inst.snapshots ?? []) as Array<Record<string, unknown>>;
  if (snaps.length > 0) {
    const rows = snaps.map((s) => {
      const name = String(s.name ?? '');
      return [
        name.slice(name.lastIndexOf('/') + 1),
        isZeroTime(s.created_at as string) ? ' ' : formatDate(s.created_at as string),
        isZeroTime(s.expires_at as string) ? ' ' : formatDate(s.expires_at as string),
        s.stateful ? 'YES' : 'NO',
      ];
    });
    text += '\nSnapshots:\n' + renderTable(['Name', 'Taken at', 'Expires at', 'Stateful'], rows, 'table');
  }
  return text;
}

async function instanceInfo(ctx: CliContext, name: string, flags: InfoFlags): Promise<number> {
  const client = ctx.client();
  const inst = await client.getInstanceFull(name);
  ctx.out(renderInstanceInfo(inst));
  if (flags.showLog) {
    let file = typeof flags.showLog === 'string' ? flags.showLog : 'default';
    if (file === 'default') {
      if (inst.type === 'container') file = 'lxc.log';
      else if (inst.type === 'virtual-machine') file = 'qemu.log';
      else throw new Error(`Unsupported instance type: ${inst.type}`);
    }
    const log = await client.getInstanceLogFile(name, file);
    ctx.out(`\nLog (${file}):\n\n${log.trim()}\n`);
  }
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description('Show instance or server information')
    .argument('[instance]', '[<remote>:]<instance>')
    .option('--resources', 'Show the resources available to the server')
    .option('--show-log [file]', "Show the instance's recent log entries")
    .option('--show-sensitive', "Show the server's sensitive information (full certificates and the API extension list)")
    .action(async (instance: string | undefined, flags: InfoFlags) => {
      const name = instance === undefined ? '' : localName(instance);
      ctx.exitCode = name === '' ? await serverInfo(ctx, flags) : await instanceInfo(ctx, name, flags);
    });
}
