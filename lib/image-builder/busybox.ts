/** Builds an Incus unified image tarball from the host's static busybox. */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAppletList, parseBusyboxVersion } from './applets';
import { hostArchitecture } from './arch';
import { BUSYBOX_TEMPLATES, busyboxMetadata, metadataYaml } from './metadata';
import { writeBusyboxRootfs } from './rootfs';
import { runTool } from './spawn';
import { COMPRESSIONS, Compression, createTarball, tarballSuffix } from './tar';

/** The busybox Debian's busybox-static installs. */
export const DEFAULT_BUSYBOX = '/bin/busybox';

/** Options for {@link buildBusyboxImage}. */
export interface BuildBusyboxImageOptions {
  /** Tarball to write; default `busybox-<version>-<arch><suffix>` in the working directory. */
  output?: string;
  /** Default `xz`. */
  compression?: Compression;
  /** Static busybox binary to package; default `/bin/busybox`. */
  busybox?: string;
  /** metadata creation_date and every file's mtime, Unix seconds; default now. */
  creationDate?: number;
}

/** The tarball written. */
export interface BuiltImage {
  /** Absolute path of the tarball. */
  path: string;
  /** SHA-256 of the tarball, hex: the Incus fingerprint of a unified image. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** Facts the build reads from the busybox binary. */
export interface BusyboxInfo {
  version: string;
  applets: string[];
}

/** Asks a busybox binary for its version and applet paths. */
export async function probeBusybox(binary: string): Promise<BusyboxInfo> {
  const banner = await runTool(binary, ['--help']);
  const list = await runTool(binary, ['--list-full']);
  return { version: parseBusyboxVersion(banner.stdout), applets: parseAppletList(list.stdout) };
}

/** SHA-256 (hex) and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    const b = chunk as Buffer;
    hash.update(b);
    size += b.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Writes a file with exactly `mode`, whatever the umask. */
async function writeFileMode(file: string, content: string, mode: number): Promise<void> {
  await fs.writeFile(file, content);
  await fs.chmod(file, mode);
}

function validate(opts: BuildBusyboxImageOptions): void {
  if (opts.compression !== undefined && !COMPRESSIONS.includes(opts.compression)) {
    throw new RangeError(`Invalid compression "${String(opts.compression)}": expected one of ${COMPRESSIONS.join(', ')}`);
  }
  if (opts.creationDate !== undefined && (!Number.isInteger(opts.creationDate) || opts.creationDate < 0)) {
    throw new RangeError(`Invalid creation date: ${opts.creationDate}`);
  }
  if (opts.output !== undefined && opts.output === '') {
    throw new TypeError('The output path must not be empty');
  }
}

/**
 * Builds a unified image (`metadata.yaml`, `templates/`, `rootfs/`) from a
 * static busybox and writes it with GNU tar. The tarball appears at its
 * final path only once complete. Needs no root: tar records every entry
 * as 0:0.
 */
export async function buildBusyboxImage(opts: BuildBusyboxImageOptions = {}): Promise<BuiltImage> {
  validate(opts);
  const compression = opts.compression ?? 'xz';
  const binary = opts.busybox ?? DEFAULT_BUSYBOX;
  const creationDate = opts.creationDate ?? Math.floor(Date.now() / 1000);
  const architecture = hostArchitecture();
  const info = await probeBusybox(binary);

  const output = path.resolve(opts.output ?? `busybox-${info.version}-${architecture}${tarballSuffix(compression)}`);
  const stage = await fs.mkdtemp(path.join(os.tmpdir(), 'incus-image-builder-'));
  const partial = `${output}.partial-${process.pid}`;
  try {
    const meta = busyboxMetadata({ architecture, version: info.version, creationDate });
    await writeFileMode(path.join(stage, 'metadata.yaml'), metadataYaml(meta), 0o644);
    await fs.mkdir(path.join(stage, 'templates'));
    await fs.chmod(path.join(stage, 'templates'), 0o755);
    for (const [name, content] of Object.entries(BUSYBOX_TEMPLATES)) {
      await writeFileMode(path.join(stage, 'templates', name), content, 0o644);
    }
    await writeBusyboxRootfs(path.join(stage, 'rootfs'), binary, info.applets);
    await createTarball(stage, ['metadata.yaml', 'templates', 'rootfs'], partial, compression, creationDate);
    await fs.rename(partial, output);
  } finally {
    await fs.rm(partial, { force: true });
    await fs.rm(stage, { recursive: true, force: true });
  }
  const { sha256, size } = await hashFile(output);
  return { path: output, sha256, size };
}
