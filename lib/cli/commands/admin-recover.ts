/**
 * `incus admin recover`: lists the instance volumes found on the pools
 * without database entries, asks (one line on stdin, or --yes) and recovers
 * them. Shorter than Incus's interactive pool questions: every pool the
 * daemon knows is scanned.
 */
import type { Command } from 'commander';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { readLine } from '../read-line';

interface UnknownVolume {
  name: string;
  type: string;
  pool: string;
  project: string;
  snapshot_count: number;
}

async function post<T>(client: IncusClient, path: string): Promise<T> {
  const res = await client.raw('POST', path, { pools: [] });
  return (res.response as unknown as { metadata: T }).metadata;
}

/** Scans, asks, recovers; exit 0 also when there is nothing to recover. */
export async function recover(ctx: CliContext, yes: boolean): Promise<number> {
  const client = ctx.client();
  ctx.out('Scanning for unknown volumes...\n');
  const res = await post<{ unknown_volumes: UnknownVolume[]; partial_uploads?: string[] }>(client, '/internal/recover/validate');
  const found = res.unknown_volumes;
  const partial = res.partial_uploads ?? [];
  if (found.length === 0 && partial.length === 0) {
    ctx.out('No unknown volumes found. Nothing to do.\n');
    return 0;
  }
  if (found.length > 0) ctx.out('The following unknown volumes have been found:\n');
  for (const v of found) ctx.out(` - Instance "${v.name}" on pool "${v.pool}" in project "${v.project}" (includes ${v.snapshot_count} snapshots)\n`);
  if (partial.length > 0) ctx.out('The following partial image uploads have been found (they will be removed):\n');
  for (const p of partial) ctx.out(` - ${p}\n`);
  if (!yes) {
    ctx.out('Would you like those to be recovered? (yes/no) [default=no]: ');
    const answer = (await readLine()).toLowerCase();
    if (answer !== 'yes' && answer !== 'y') return 0;
  }
  ctx.out('Starting recovery...\n');
  await post(client, '/internal/recover/import');
  return 0;
}

/** Adds `recover` under `admin`. */
export function registerRecover(admin: Command, ctx: CliContext): void {
  admin
    .command('recover')
    .description('Recover missing instances and volumes from existing and unknown storage pools')
    .option('--yes', 'Recover without asking')
    .action(async (flags: { yes?: boolean }) => {
      ctx.exitCode = await recover(ctx, flags.yes === true);
    });
}
