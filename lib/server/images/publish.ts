/**
 * Publishing an instance as an image: a unified tarball of its rootfs,
 * templates and a metadata.yaml (the instance's own, with the requested
 * properties), compressed as asked, then recorded like an upload.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { badRequest } from '../errors';
import { run } from './run';

const COMPRESSION: Record<string, string[]> = {
  gzip: ['-z'],
  xz: ['-J'],
  zstd: ['--zstd'],
  bzip2: ['-j'],
  none: [],
};

export interface PublishSource {
  volumePath: string;
  architecture: string;
  /** Shifted on disk: the tarball would carry host ids, so publishing is refused. */
  shiftedOnDisk: boolean;
}

/** Writes the image tarball under dir and returns its path. */
export async function buildPublishedTarball(
  src: PublishSource,
  dir: string,
  opts: { compression: string; properties: Record<string, string> },
): Promise<string> {
  const flags = COMPRESSION[opts.compression || 'gzip'];
  if (!flags) throw badRequest(`Unsupported compression algorithm "${opts.compression}"`);
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
    const parts = ['-C', stage, 'metadata.yaml', '-C', src.volumePath, 'rootfs'];
    if (existsSync(join(src.volumePath, 'templates'))) parts.push('templates');
    await run('tar', ['-c', ...flags, '-f', out, '--numeric-owner', '--xattrs', '--xattrs-include=*', ...parts]);
    return out;
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
