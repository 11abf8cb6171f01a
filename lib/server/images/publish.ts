/**
 * Publishing an instance as an image: a unified tarball of its rootfs,
 * templates and a metadata.yaml (the instance's own, with the requested
 * properties), or the split format's two files, compressed as asked, then
 * recorded like an upload. A VM's rootfs is its raw root disk converted to
 * qcow2 (a `rootfs.img` member of a unified tarball), which is what makes
 * the image a `virtual-machine` one on import.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { badRequest } from '../errors';
import { run } from './run';
import { isQcow2File } from './image-type';
import { compressionError, compressorCommand } from './compression';
import { unshiftTarFlags } from './unshift-maps';
import type { IdmapEntry } from '../instance/idmap-alloc';

export interface PublishSource {
  volumePath: string;
  architecture: string;
  /** The id map the rootfs is owned by on disk (volatile.last_state.idmap); its ids are unshifted in the tarball. */
  diskIdmap?: readonly IdmapEntry[];
  /** A VM's raw root disk (its volume's or snapshot's `root.img`); absent for a container. */
  vmDisk?: string;
}

export interface PublishOptions {
  compression: string;
  properties: Record<string, string>;
  /** ImagesPost `format`: "" or "unified" (one tarball), "split" (metadata tarball + rootfs file). */
  format: string;
}

/** What a publish wrote: the unified tarball (rootfsFile null), or a split image's two files. */
export interface PublishedFiles {
  metadataFile: string;
  rootfsFile: string | null;
}

/**
 * Writes the image files under dir, as Incus's Export lays them out: a
 * unified tarball (metadata.yaml, rootfs/ or rootfs.img, templates/), or for
 * the split format a metadata tarball (metadata.yaml, templates/) and a
 * rootfs file: a tarball of the rootfs tree's contents, or for a VM its
 * disk as compressed qcow2 (never compressed again).
 */
export async function buildPublishedImage(src: PublishSource, dir: string, opts: PublishOptions): Promise<PublishedFiles> {
  if (opts.format !== '' && opts.format !== 'unified' && opts.format !== 'split') throw badRequest('Invalid image format');
  const compression = opts.compression || 'gzip';
  const invalid = compressionError(compression);
  if (invalid) throw badRequest(invalid);
  if (compression === 'squashfs') throw badRequest('Publishing with squashfs compression is not supported');
  const compressor = compressorCommand(compression);
  const flags = compressor ? ['-I', compressor.join(' ')] : [];
  let md: Record<string, unknown> = {};
  try {
    md = (parse(await readFile(join(src.volumePath, 'metadata.yaml'), 'utf8')) as Record<string, unknown> | null) ?? {};
  } catch {
    // No metadata.yaml: an instance created empty; start from scratch.
  }
  md.architecture = src.architecture;
  md.creation_date = Math.floor(Date.now() / 1000);
  md.properties = { ...((md.properties as Record<string, string> | undefined) ?? {}), ...opts.properties };
  const stage = await mkdtemp(join(dir, 'publish-'));
  const out: PublishedFiles = {
    metadataFile: join(dir, `publish-${randomUUID()}`),
    rootfsFile: opts.format === 'split' ? join(dir, `publish-${randomUUID()}`) : null,
  };
  let unshift: string[] = [];
  const tar = (file: string, parts: string[]): Promise<Buffer> =>
    run('tar', ['-c', ...flags, ...unshift, '-f', file, '--numeric-owner', '--xattrs', '--xattrs-include=*', ...parts]);
  try {
    if (!src.vmDisk && src.diskIdmap?.length) unshift = await unshiftTarFlags(join(src.volumePath, 'rootfs'), src.diskIdmap, stage);
    await writeFile(join(stage, 'metadata.yaml'), stringify(md));
    const parts = ['-C', stage, 'metadata.yaml'];
    if (src.vmDisk && out.rootfsFile) {
      await diskToQcow2(src.vmDisk, out.rootfsFile, true);
    } else if (src.vmDisk) {
      await diskToQcow2(src.vmDisk, join(stage, 'rootfs.img'), false);
      parts.push('rootfs.img');
    } else if (out.rootfsFile) {
      await tar(out.rootfsFile, ['-C', join(src.volumePath, 'rootfs'), '.']);
    } else {
      parts.push('-C', src.volumePath, 'rootfs');
    }
    if (existsSync(join(src.volumePath, 'templates'))) parts.push('-C', src.volumePath, 'templates');
    await tar(out.metadataFile, parts);
    return out;
  } catch (err) {
    await rm(out.metadataFile, { force: true });
    if (out.rootfsFile) await rm(out.rootfsFile, { force: true });
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * A VM disk as qcow2, as Incus's qemu Export writes it, at low priority: the
 * `rootfs.img` of a unified image uncompressed (the tarball is compressed
 * after), a split image's rootfs file qcow2-compressed (`compress`); a disk
 * that already is qcow2 is read as such.
 */
async function diskToQcow2(disk: string, out: string, compress: boolean): Promise<void> {
  if (!existsSync(disk)) throw new Error('No disk path available from mount');
  const format = (await isQcow2File(disk)) ? 'qcow2' : 'raw';
  try {
    await run('nice', ['-n19', 'qemu-img', 'convert', '-f', format, '-O', 'qcow2', ...(compress ? ['-c'] : []), disk, out]);
  } catch (err) {
    throw new Error(`Failed converting instance to qcow2: ${(err as Error).message}`);
  }
}
