/**
 * Everything Incus's networkSetupHostVethLimits puts on a NIC's host-side
 * veth: the tc bandwidth limits (nic-link.ts) and `limits.priority`, an
 * nftables netdev egress chain `egress.netprio.<instance>.<veth>` in table
 * `netdev incus` setting skb->priority, as Incus's InstanceSetupNetPrio.
 */
import { runTool } from '../../network/tool';
import { instanceDirName } from '../dir-name';
import type { DeviceStartContext } from './interface';
import { applyNicLimits, clearNicLimits, hasNicLimits } from './nic-link';

const TABLE = 'netdev incus';

const chainOf = (ctx: DeviceStartContext, host: string): string => `egress.netprio.${instanceDirName(ctx.inst.project, ctx.inst.name)}.${host}`;

/** Applies the NIC's limits to its host-side link `host` (replacing earlier ones). */
export async function applyHostLimits(ctx: DeviceStartContext, host: string): Promise<void> {
  await clearNetPrio(ctx, host);
  if (hasNicLimits(ctx.config)) await applyNicLimits(host, ctx.config);
  const prio = Number(ctx.config['limits.priority'] || 0);
  if (!prio) return;
  const chain = chainOf(ctx, host);
  const script = [
    `table ${TABLE} {`,
    `  chain ${chain} {`,
    `    type filter hook egress device "${host}" priority 0;`,
    `    meta priority set "${prio}"`,
    '  }',
    '}',
  ];
  await runTool('nft', ['-f', '-'], script.join('\n') + '\n');
}

/** Removes what applyHostLimits set up. */
export async function clearHostLimits(ctx: DeviceStartContext, host: string): Promise<void> {
  await clearNicLimits(host);
  await clearNetPrio(ctx, host);
}

/**
 * Drops the NIC's netprio chain if there is one; the table stays, as Incus
 * leaves it (instances starting together, or two daemons on one host,
 * would otherwise race on deleting it).
 */
async function clearNetPrio(ctx: DeviceStartContext, host: string): Promise<void> {
  const chain = chainOf(ctx, host);
  let listing: { nftables: Record<string, unknown>[] };
  try {
    listing = JSON.parse(await runTool('nft', ['-j', 'list', 'table', 'netdev', 'incus'])) as typeof listing;
  } catch {
    return; // no table: no chain
  }
  if (!listing.nftables.some((o) => (o.chain as { name?: string } | undefined)?.name === chain)) return;
  await runTool('nft', ['-f', '-'], `flush chain ${TABLE} ${chain}\ndelete chain ${TABLE} ${chain}\n`);
}
