/**
 * Carrying a rootfs into the daemon through the API only: pack it with a
 * metadata.yaml as a unified image tarball (ids shifted back to container
 * ids when the LXC container was unprivileged), import it, create the
 * instance from it, delete the temporary image.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IncusClient } from '../../client/client';
import { type IdMapEntry, ownerMap } from './idmap';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} failed (${code}): ${err.trim()}`))));
  });
}

/** Owner uid/gid sets of everything under `dir` (one walk). */
async function owners(dir: string): Promise<{ uids: Set<number>; gids: Set<number> }> {
  const uids = new Set<number>();
  const gids = new Set<number>();
  for (const line of (await run('find', [dir, '-printf', '%U %G\\n'])).split('\n')) {
    const [u, g] = line.split(' ');
    if (u) uids.add(Number(u));
    if (g) gids.add(Number(g));
  }
  return { uids, gids };
}

/** Image metadata for the packed rootfs. */
export interface PackInfo {
  name: string;
  architecture: string;
}

/**
 * Writes `<work>/image.tar` (metadata.yaml + rootfs/); resolves with its
 * path and the host ids the idmap did not cover.
 */
export async function packRootfs(rootfs: string, idmap: IdMapEntry[], info: PackInfo, work: string): Promise<{ file: string; unmapped: number[] }> {
  await writeFile(
    join(work, 'metadata.yaml'),
    stringify({
      architecture: info.architecture,
      creation_date: Math.floor(Date.now() / 1000),
      properties: { description: `LXC container ${info.name} (lxc-to-incus)`, os: 'lxc', release: info.name },
    }),
  );
  const args = ['-cf', join(work, 'image.tar'), '--numeric-owner', '-C', work, 'metadata.yaml'];
  let unmapped: number[] = [];
  if (idmap.length) {
    const { uids, gids } = await owners(rootfs);
    const u = ownerMap(idmap, 'u', uids);
    const g = ownerMap(idmap, 'g', gids);
    unmapped = [...new Set([...u.unmapped, ...g.unmapped])];
    await writeFile(join(work, 'owner-map'), u.text);
    await writeFile(join(work, 'group-map'), g.text);
    args.push(`--owner-map=${join(work, 'owner-map')}`, `--group-map=${join(work, 'group-map')}`);
  }
  // `.` and `./x` become `rootfs` and `rootfs/x`; symlink targets stay as they are (S).
  args.push('--transform=s,^\\.,rootfs,S', '-C', rootfs, '.');
  await run('tar', args);
  return { file: join(work, 'image.tar'), unmapped };
}

/** What to create. */
export interface CreateSpec {
  name: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  profiles: string[];
}

/** Imports the packed rootfs and creates the instance from it; the temporary image is always removed. */
export async function createFromRootfs(c: IncusClient, rootfs: string, idmap: IdMapEntry[], info: PackInfo, spec: CreateSpec): Promise<{ unmapped: number[] }> {
  const work = await mkdtemp(join(tmpdir(), 'lxc-to-incus-'));
  let fingerprint: string | undefined;
  try {
    const { file, unmapped } = await packRootfs(rootfs, idmap, info, work);
    fingerprint = (await c.createImageFromFile(file, { filename: `${info.name}.tar` })).fingerprint;
    await (await c.createInstance({ name: spec.name, type: 'container', source: { type: 'image', fingerprint }, config: spec.config, devices: spec.devices, profiles: spec.profiles })).wait();
    return { unmapped };
  } finally {
    if (fingerprint) await (await c.deleteImage(fingerprint)).wait().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
