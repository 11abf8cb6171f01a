/**
 * What an image file on disk is: a squashfs, or a tarball (any compression
 * GNU tar detects) with or without metadata.yaml and rootfs/; and its sha256.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ImageMetadata } from '../api/image';

export interface ImageFileInfo {
  format: 'squashfs' | 'tarball';
  /** metadata.yaml, for a tarball holding one. */
  metadata?: ImageMetadata;
  /** A tarball with a rootfs/ (or a VM's rootfs.img): a unified image. */
  unified: boolean;
  vm: boolean;
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

async function magic(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.toString('latin1');
  } finally {
    await fh.close();
  }
}

function tar(args: string[], onLine?: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let stopped = false;
    let rest = '';
    child.stdout.on('data', (b: Buffer) => {
      if (!onLine) {
        out += b.toString('utf8');
        return;
      }
      rest += b.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (!stopped && onLine(l)) {
          stopped = true;
          child.kill('SIGTERM');
        }
      }
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (onLine && rest && !stopped) onLine(rest);
      if (code === 0 || stopped) resolve(out);
      else reject(new Error(err.trim() || `tar exited ${code}`));
    });
  });
}

/** Inspects an image file. @throws Error when it is neither a squashfs nor a readable tarball. */
export async function inspectImageFile(file: string): Promise<ImageFileInfo> {
  if ((await magic(file)) === 'hsqs') return { format: 'squashfs', unified: false, vm: false };
  let unified = false;
  let vm = false;
  let hasMetadata = false;
  await tar(['-tf', file], (line) => {
    const name = line.replace(/^\.\//, '');
    if (name === 'metadata.yaml') hasMetadata = true;
    if (name === 'rootfs' || name.startsWith('rootfs/')) unified = true;
    if (name === 'rootfs.img') unified = vm = true;
    return hasMetadata && unified;
  });
  if (!hasMetadata) return { format: 'tarball', unified, vm };
  let text = '';
  for (const name of ['metadata.yaml', './metadata.yaml']) {
    text = await tar(['-xOf', file, name]).catch(() => '');
    if (text) break;
  }
  return { format: 'tarball', unified, vm, metadata: (parse(text) ?? {}) as ImageMetadata };
}
