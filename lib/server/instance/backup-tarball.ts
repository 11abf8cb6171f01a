/**
 * Backup tarballs in Incus's layout: `backup/index.yaml` first, then
 * `backup/snapshots/<snap>/...` for each snapshot and `backup/container/...`
 * for the volume (rootfs, metadata.yaml, templates) of an instance, or
 * `backup/volume-snapshots/<snap>/` and `backup/volume/` of a custom
 * volume, owners kept as numbers
 * with xattrs and ACLs; the whole optionally compressed. Built from GNU tar
 * appends so nothing is staged on disk but the tarball itself (and, for an
 * optimized backup, one driver stream at a time: see backup-optimized.ts).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { BackupIndex } from '../../api/instance-backup';
import { badRequest, conflict } from '../errors';
import { validateBackupName } from '../names';
import { normaliseExpiry } from './snapshots';
import { run } from '../images/run';
import { compressionError, compressorCommand } from '../images/compression';
import type { BackupSink } from '../storage/interface';
import { tarSink } from './backup-optimized';

/** What instance and volume backup create requests share. */
export interface BackupRequest {
  name?: string;
  expires_at?: string;
  optimized_storage?: boolean;
  compression_algorithm?: string;
}

/**
 * A create request's name (the requested one, else the first free
 * `backup<N>`), expiry and compression, checked (400) against the names
 * `taken` (409), before any operation starts.
 */
export function checkBackupRequest(req: BackupRequest, taken: Set<string>): { name: string; expiresAt: string; compression: string } {
  let name = req.name;
  if (!name) {
    let i = 0;
    while (taken.has(`backup${i}`)) i++;
    name = `backup${i}`;
  }
  validateBackupName(name);
  if (taken.has(name)) throw conflict(`Backup "${name}" already exists`);
  return { name, expiresAt: normaliseExpiry(req.expires_at), compression: checkCompression(req.compression_algorithm) };
}

/** The algorithm to use ('' → gzip); a 400 with Incus's message for one it refuses. */
export function checkCompression(algo: string | undefined): string {
  const a = algo || 'gzip';
  const invalid = compressionError(a);
  if (invalid) throw badRequest(invalid);
  if (a === 'squashfs') throw badRequest('Backups cannot be compressed with squashfs');
  return a;
}

const TAR_OPTS = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '--sparse'];

/** Appends the tree at `dir` to an uncompressed tarball under `prefix` (symlink targets untouched). */
async function appendTree(tarball: string, dir: string, prefix: string): Promise<void> {
  await run('tar', ['-rf', tarball, ...TAR_OPTS, `--transform=s,^\\.,${prefix},S`, '-C', dir, '.']);
}

/** Runs cmd with stdin from one file and stdout into another. */
async function filter(cmd: string[], input: string, output: string): Promise<void> {
  const inp = await open(input, 'r');
  const out = await open(output, 'w', 0o600);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cmd[0]!, cmd.slice(1), { stdio: [inp.fd, out.fd, 'pipe'] });
      const err: Buffer[] = [];
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd[0]} failed: ${Buffer.concat(err).toString().trim()}`))));
    });
  } finally {
    await inp.close();
    await out.close();
  }
}

/** What goes in one backup tarball. */
export interface TarballSpec {
  index: BackupIndex;
  volumePath: string;
  snapshots: { name: string; path: string }[];
  compression: string;
  /** Folder names under `backup/`: an instance's `container` and `snapshots` (the default), a custom volume's `volume` and `volume-snapshots`. */
  parts?: TarballParts;
  /** An optimized backup: the driver writes its streams to the sink instead of the trees being archived. */
  optimized?: (sink: BackupSink) => Promise<void>;
}

export interface TarballParts {
  volume: string;
  snapshots: string;
}

export const INSTANCE_PARTS: TarballParts = { volume: 'container', snapshots: 'snapshots' };
export const VOLUME_PARTS: TarballParts = { volume: 'volume', snapshots: 'volume-snapshots' };

/** Writes the tarball at `out` (atomically: a partial file is renamed at the end, removed on failure). */
export async function writeBackupTarball(out: string, spec: TarballSpec): Promise<void> {
  const tar = `${out}.tar.partial`;
  const idx = `${out}.index.partial`;
  const part = `${out}.partial`;
  const scratch = `${out}.scratch`;
  try {
    await writeFile(idx, stringify(spec.index), { mode: 0o600 });
    await run('tar', ['-cf', tar, '--numeric-owner', `--transform=s,.*,backup/index.yaml,`, '-C', join(idx, '..'), `${out.split('/').pop()!}.index.partial`]);
    const parts = spec.parts ?? INSTANCE_PARTS;
    if (spec.optimized) {
      await mkdir(scratch, { mode: 0o700 });
      await spec.optimized(tarSink(tar, scratch));
    } else {
      for (const s of spec.snapshots) await appendTree(tar, s.path, `backup/${parts.snapshots}/${s.name}`);
      await appendTree(tar, spec.volumePath, `backup/${parts.volume}`);
    }
    const cmd = compressorCommand(spec.compression);
    if (cmd) await filter(cmd, tar, part);
    else await rename(tar, part);
    await rename(part, out);
  } finally {
    await Promise.all([tar, idx, part, scratch].map((p) => rm(p, { recursive: true, force: true })));
  }
}

/** Reads `backup/index.yaml` from a tarball (any compression tar detects); a 400 when the file is no backup. */
export async function readBackupIndex(file: string): Promise<string> {
  try {
    return (await run('tar', ['-xOf', file, 'backup/index.yaml'], { stdout: true })).toString();
  } catch (err) {
    throw badRequest(`Invalid backup file: ${(err as Error).message}`);
  }
}

/** Every member name; reading the whole archive finds truncation and corruption before anything is made. */
export async function listBackupMembers(file: string): Promise<string[]> {
  try {
    return (await run('tar', ['-tf', file], { stdout: true })).toString().split('\n').filter((l) => l !== '');
  } catch (err) {
    throw badRequest(`Invalid backup file: ${(err as Error).message}`);
  }
}

/** Extracts one part of the tarball (such as `backup/container` or `backup/snapshots/<snap>`) into `dir`. */
export async function extractPart(file: string, part: string, dir: string): Promise<void> {
  const depth = part.split('/').length;
  await run('tar', ['-xf', file, ...TAR_OPTS, `--strip-components=${depth}`, '-C', dir, part]);
}
