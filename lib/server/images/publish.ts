/**
 * Publishing an instance as an image: a unified tarball of its rootfs,
 * templates and a metadata.yaml (the instance's own, with the requested
 * properties), compressed as asked, then recorded like an upload. A VM's
 * rootfs is its raw root disk converted to qcow2 as a `rootfs.img` member,
 * which is what makes the image a `virtual-machine` one on import.
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

export interface PublishSource {
  volumePath: string;
  architecture: string;
  /** Shifted on disk: the tarball would carry host ids, so publishing is refused. */
  shiftedOnDisk: boolean;
  /** A VM's raw root disk (its volume's or snapshot's `root.img`); absent for a container. */
  vmDisk?: string;
}

/** Writes the image tarball under dir and returns its path. */
export async function buildPublishedTarball(
  src: PublishSource,
  dir: string,
  opts: { compression: string; properties: Record<string, string> },
): Promise<string> {
  const compression = opts.compression || 'gzip';
  const invalid = compressionError(compression);
  if (invalid) throw badRequest(invalid);
  if (compression === 'squashfs') throw badRequest('Publishing with squashfs compression is not supported');
  const compressor = compressorCommand(compression);
  const flags = compressor ? ['-I', compressor.join(' ')] : [];
  if (src.shiftedOnDisk) throw badRequest('Cannot publish an instance whose rootfs is shifted on disk (no idmapped mounts on this host)');
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
  const out = join(dir, `publish-${randomUUID()}`);
  try {
    await writeFile(join(stage, 'metadata.yaml'), stringify(md));
    const parts = ['-C', stage, 'metadata.yaml'];
    if (src.vmDisk) {
      await diskToQcow2(src.vmDisk, join(stage, 'rootfs.img'));
      parts.push('rootfs.img');
      if (existsSync(join(src.volumePath, 'templates'))) parts.push('-C', src.volumePath, 'templates');
    } else {
      parts.push('-C', src.volumePath, 'rootfs');
      if (existsSync(join(src.volumePath, 'templates'))) parts.push('templates');
    }
    await run('tar', ['-c', ...flags, '-f', out, '--numeric-owner', '--xattrs', '--xattrs-include=*', ...parts]);
    return out;
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * A VM disk as the qcow2 `rootfs.img` of a unified image, as Incus's
 * qemu Export writes it: uncompressed qcow2 (the tarball is compressed
 * after), at low priority; a disk that already is qcow2 is read as such.
 */
async function diskToQcow2(disk: string, out: string): Promise<void> {
  if (!existsSync(disk)) throw new Error('No disk path available from mount');
  const format = (await isQcow2File(disk)) ? 'qcow2' : 'raw';
  try {
    await run('nice', ['-n19', 'qemu-img', 'convert', '-f', format, '-O', 'qcow2', disk, out]);
  } catch (err) {
    throw new Error(`Failed converting instance to qcow2: ${(err as Error).message}`);
  }
}
