/** Command-line parsing of `incus-image-builder` (pure). */

import { parseArgs } from 'node:util';
import { COMPRESSIONS, Compression } from './tar';

/** The help text. */
export const USAGE = `Usage: incus-image-builder busybox [--output FILE] [--compression xz|gzip|none] [--busybox PATH] [--import ALIAS]

Builds an Incus unified image tarball from a static busybox and prints its path.
  --output FILE         tarball to write (default busybox-<version>-<arch>.tar.xz)
  --compression KIND    xz (default), gzip or none
  --busybox PATH        busybox binary to package (default /bin/busybox)
  --import ALIAS        also import the image into the running daemon under ALIAS
SOURCE_DATE_EPOCH, when set, fixes the creation date and all mtimes.
`;

/** A usage mistake: reported with the usage text and exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parsed command line. */
export interface BuilderArgs {
  output?: string;
  compression: Compression;
  busybox?: string;
  importAlias?: string;
  help: boolean;
}

/** Parses argv (without node and script); throws UsageError on a mistake. */
export function parseBuilderArgs(argv: readonly string[]): BuilderArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        compression: { type: 'string' },
        busybox: { type: 'string' },
        import: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { compression: 'xz', help: true };
  if (positionals.length !== 1 || positionals[0] !== 'busybox') {
    throw new UsageError(positionals.length === 0 ? 'Missing image kind' : `Unknown image kind: ${positionals.join(' ')}`);
  }
  const compression = values.compression ?? 'xz';
  if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
    throw new UsageError(`Invalid compression "${compression}": expected one of ${COMPRESSIONS.join(', ')}`);
  }
  if (values.import !== undefined && values.import === '') {
    throw new UsageError('The alias given to --import must not be empty');
  }
  return {
    output: values.output,
    compression: compression as Compression,
    busybox: values.busybox,
    importAlias: values.import,
    help: false,
  };
}


/** SOURCE_DATE_EPOCH as Unix seconds, or undefined when unset or empty. */
export function parseSourceDateEpoch(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`Invalid SOURCE_DATE_EPOCH: ${raw}`);
  return Number(raw);
}
