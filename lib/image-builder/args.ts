/** Command-line parsing of `incus-image-builder` (pure). */

import { parseArgs } from 'node:util';
import { COMPRESSIONS, Compression } from './tar';

/** The help text. */
export const USAGE = `Usage: incus-image-builder busybox [--output FILE] [--compression xz|gzip|none] [--busybox PATH] [--import ALIAS]
       incus-image-builder busybox --vm [--output DIR] [--compression xz|gzip|none] [--busybox PATH] [--import ALIAS]
       incus-image-builder debian [--release bookworm] [--mirror URL] [--output FILE] [--compression xz|gzip|none] [--import ALIAS]
       incus-image-builder debian --vm [--release bookworm] [--mirror URL] [--output DIR] [--compression xz|gzip|none] [--import ALIAS]

Builds an Incus unified image tarball and prints its path.
  busybox               a static busybox (no root needed)
  busybox --vm          a UEFI test VM (Debian kernel + busybox initramfs): a split image,
                        DIR/incus.tar.xz (metadata) and DIR/disk.qcow2; prints both paths.
                        The kernel package is downloaded once with apt-get into the cache
                        ($INCUS_IMAGE_BUILDER_CACHE, $XDG_CACHE_HOME/incus-image-builder or
                        /var/cache/incus-image-builder)
  debian                Debian by debootstrap from the host's apt mirror (root; sysvinit, DHCP on eth0)
  debian --vm           a bootable UEFI Debian VM (root; systemd, the Debian kernel in a unified
                        kernel image, ext4 root, DHCP on the first NIC, the incus-agent hook):
                        a split image like busybox --vm, with a 4 GiB disk
  --output FILE         tarball to write (default <kind>-<version>-<arch>.tar.xz);
                        with --vm the directory for both files (default busybox-vm-<version>-<arch>
                        or debian-vm-<release>-<arch>)
  --compression KIND    xz (default), gzip or none
  --busybox PATH        busybox binary to package (default /bin/busybox)
  --release NAME        Debian suite (default bookworm)
  --mirror URL          Debian archive (default: from /etc/apt/sources.list(.d))
  --import ALIAS        also import the image into the running daemon under ALIAS
SOURCE_DATE_EPOCH, when set, fixes the creation date (and, for busybox, all mtimes).
`;

/** A usage mistake: reported with the usage text and exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parsed command line. */
export interface BuilderArgs {
  /** What to build. */
  kind: 'busybox' | 'debian';
  /** A VM image (split: metadata tarball + qcow2) instead of a container image. */
  vm?: boolean;
  output?: string;
  compression: Compression;
  busybox?: string;
  importAlias?: string;
  /** debian: suite and archive. */
  release?: string;
  mirror?: string;
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
        release: { type: 'string' },
        mirror: { type: 'string' },
        import: { type: 'string' },
        vm: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'busybox', compression: 'xz', help: true };
  const kind = positionals[0];
  if (positionals.length !== 1 || (kind !== 'busybox' && kind !== 'debian')) {
    throw new UsageError(positionals.length === 0 ? 'Missing image kind' : `Unknown image kind: ${positionals.join(' ')}`);
  }
  if (kind === 'busybox' && (values.release !== undefined || values.mirror !== undefined)) {
    throw new UsageError('--release and --mirror apply to debian images only');
  }
  if (kind === 'debian' && values.busybox !== undefined) throw new UsageError('--busybox applies to busybox images only');
  if (values.mirror !== undefined && !/^(https?|file):\/\//.test(values.mirror)) {
    throw new UsageError(`Invalid mirror "${values.mirror}": expected an http://, https:// or file:// URL`);
  }
  const compression = values.compression ?? 'xz';
  if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
    throw new UsageError(`Invalid compression "${compression}": expected one of ${COMPRESSIONS.join(', ')}`);
  }
  if (values.import !== undefined && values.import === '') {
    throw new UsageError('The alias given to --import must not be empty');
  }
  return {
    kind,
    ...(values.vm === true ? { vm: true } : {}),
    output: values.output,
    compression: compression as Compression,
    busybox: values.busybox,
    importAlias: values.import,
    ...(kind === 'debian' ? { release: values.release ?? 'bookworm', mirror: values.mirror } : {}),
    help: false,
  };
}


/** SOURCE_DATE_EPOCH as Unix seconds, or undefined when unset or empty. */
export function parseSourceDateEpoch(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`Invalid SOURCE_DATE_EPOCH: ${raw}`);
  return Number(raw);
}
