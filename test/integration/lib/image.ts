/** The busybox test image, built once per test run and cached under /tmp; image file helpers. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBusyboxImage } from '../../../lib/image-builder/busybox';

const CACHE = '/tmp/incus-test-images';
let pending: Promise<string> | null = null;

export function busyboxImage(): Promise<string> {
  pending ??= (async () => {
    const out = join(CACHE, `busybox-${process.pid}.tar.xz`);
    if (existsSync(out)) return out;
    mkdirSync(CACHE, { recursive: true });
    const r = await buildBusyboxImage({ output: out });
    return r.path;
  })();
  return pending;
}

/** The Incus fingerprint of image files: sha256 over them in order (metadata, then rootfs for a split image). */
export function imageFingerprint(...files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
}

/** Runs a tool to completion; throws with its stderr when it fails. */
export function runTool(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
