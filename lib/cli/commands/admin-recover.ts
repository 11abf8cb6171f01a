/**
 * `incus admin recover`, Incus's dialog: lists the server's pools, asks for
 * unknown pools to scan as well (name, backend, source, extra KEY=VALUE
 * lines), scans them all (POST /internal/recover/validate), names what it
 * found and what it lacks (asking again until nothing is missing), then
 * recovers on "yes" (POST /internal/recover/import). `--yes` answers the
 * questions with their defaults and recovers without asking.
 */
import type { Command } from 'commander';
import type { StoragePool } from '../../api/storage-pool';
import type { Server } from '../../api/server';
import { Asker } from '../admin-init-ask';
import type { CliContext } from '../context';

/** A pool to scan, as Incus's StoragePoolsPost: existing ones by name only. */
interface ScanPool {
  name: string;
  driver?: string;
  config?: Record<string, string>;
}

interface UnknownVolume {
  name: string;
  type: string;
  pool: string;
  project: string;
  snapshot_count: number;
}

interface ValidateResult {
  unknown_volumes: UnknownVolume[] | null;
  dependency_errors: string[] | null;
  /** This server's: image upload files a crash left (the import removes them). */
  partial_uploads?: string[] | null;
}

/** Go's cases.Title for one word: "container" → "Container". */
const title = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** Asks for the unknown pools to scan, each with its backend, source and extra config. */
async function askUnknownPools(ask: Asker, drivers: string[]): Promise<ScanPool[]> {
  const pools: ScanPool[] = [];
  while (await ask.askBool('Would you like to recover another storage pool? (yes/no) [default=no]: ', 'no')) {
    const name = await ask.askString('Name of the storage pool: ', '', (v) => {
      if (v === '') return 'Pool name cannot be empty';
      return pools.some((p) => p.name === v) ? `Storage pool "${v}" is already on recover list` : null;
    });
    const driver = await ask.askString(`Name of the storage backend (${drivers.join(', ')}): `, '', (v) =>
      drivers.includes(v) ? null : `Invalid value "${v}" (not one of [${drivers.join(' ')}])`,
    );
    const source = await ask.askString('Source of the storage pool (block device, volume group, dataset, path, ... as applicable): ', '', (v) =>
      v === '' ? 'Required value' : null,
    );
    const config: Record<string, string> = { source };
    for (;;) {
      let key = '';
      let value = '';
      await ask.askString('Additional storage pool configuration property (KEY=VALUE, empty when done): ', '', (v) => {
        if (v === '') return null;
        const eq = v.indexOf('=');
        if (eq < 0) return 'Config option should be in the format KEY=VALUE';
        [key, value] = [v.slice(0, eq), v.slice(eq + 1)];
        return null;
      });
      if (key === '') break;
      config[key] = value;
    }
    pools.push({ name, driver, config });
  }
  return pools;
}

/** The dialog; exit 0 also when there is nothing to recover or the answer is no. */
export async function recover(ctx: CliContext, yes: boolean): Promise<number> {
  const client = ctx.client();
  const server = (await client.raw('GET', '/1.0')).response as unknown as { metadata: Server };
  const existing = (await client.raw('GET', '/1.0/storage-pools?recursion=1')).response as unknown as { metadata: StoragePool[] };
  const ask = new Asker(yes ? emptyInput() : process.stdin, ctx.io.out, ctx.io.err);
  const askBool = (q: string, dflt: string): Promise<boolean> => (yes ? Promise.resolve(true) : ask.askBool(q, dflt));
  try {
    ctx.out('This server currently has the following storage pools:\n');
    for (const p of existing.metadata) ctx.out(` - ${p.name} (backend="${p.driver}", source="${p.config.source ?? ''}")\n`);
    const drivers = (server.metadata.environment?.storage_supported_drivers ?? []).map((d) => d.Name);
    // A cluster cannot create a pool on one member: no unknown pools there, as in Incus.
    const unknown = yes || server.metadata.environment?.server_clustered ? [] : await askUnknownPools(ask, drivers);
    ctx.out('The recovery process will be scanning the following storage pools:\n');
    for (const p of existing.metadata) ctx.out(` - EXISTING: "${p.name}" (backend="${p.driver}", source="${p.config.source ?? ''}")\n`);
    for (const p of unknown) ctx.out(` - NEW: "${p.name}" (backend="${p.driver}", source="${p.config?.source ?? ''}")\n`);
    if (!(await askBool('Would you like to continue with scanning for lost volumes? (yes/no) [default=yes]: ', 'yes'))) return 0;
    ctx.out('Scanning for unknown volumes...\n');
    const body = { pools: [...existing.metadata.map((p): ScanPool => ({ name: p.name })), ...unknown] };
    for (;;) {
      const res = await client.raw('POST', '/internal/recover/validate', body).catch((err: Error) => {
        throw new Error(`Failed validation request: ${err.message}`);
      });
      const found = (res.response as unknown as { metadata: ValidateResult }).metadata;
      const vols = found.unknown_volumes ?? [];
      const missing = found.dependency_errors ?? [];
      if (unknown.length > 0) {
        ctx.out('The following unknown storage pools have been found:\n');
        for (const p of unknown) ctx.out(` - Storage pool "${p.name}" of type "${p.driver}"\n`);
      }
      if (vols.length > 0) {
        ctx.out('The following unknown volumes have been found:\n');
        for (const v of vols) ctx.out(` - ${title(v.type)} "${v.name}" on pool "${v.pool}" in project "${v.project}" (includes ${v.snapshot_count} snapshots)\n`);
      }
      const partial = found.partial_uploads ?? [];
      if (partial.length > 0) {
        ctx.out('The following partial image uploads have been found (they will be removed):\n');
        for (const p of partial) ctx.out(` - ${p}\n`);
      }
      if (missing.length === 0) {
        if (unknown.length === 0 && vols.length === 0 && partial.length === 0) {
          ctx.out('No unknown storage pools or volumes found. Nothing to do.\n');
          return 0;
        }
        break;
      }
      ctx.out('You are currently missing the following:\n');
      for (const m of missing) ctx.out(` - ${m}\n`);
      if (yes) throw new Error('Missing dependencies: create them and run again');
      await ask.askString('Please create those missing entries and then hit ENTER: ', '', () => null);
    }
    if (!(await askBool('Would you like those to be recovered? (yes/no) [default=no]: ', 'no'))) return 0;
    ctx.out('Starting recovery...\n');
    await client.raw('POST', '/internal/recover/import', body).catch((err: Error) => {
      throw new Error(`Failed import request: ${err.message}`);
    });
    return 0;
  } finally {
    ask.close();
  }
}

/** An input with no lines, for `--yes` (nothing is read). */
function emptyInput(): NodeJS.ReadableStream {
  const { Readable } = require('node:stream') as typeof import('node:stream');
  return Readable.from([]);
}

/** Adds `recover` under `admin`. */
export function registerRecover(admin: Command, ctx: CliContext): void {
  admin
    .command('recover')
    .description('Recover missing instances and volumes from existing and unknown storage pools')
    .option('--yes', 'Scan the existing pools and recover without asking')
    .action(async (flags: { yes?: boolean }) => {
      ctx.exitCode = await recover(ctx, flags.yes === true);
    });
}
