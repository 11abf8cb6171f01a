/** The busybox test image, built once per test run and cached under /tmp. */
import { existsSync, mkdirSync } from 'node:fs';
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
