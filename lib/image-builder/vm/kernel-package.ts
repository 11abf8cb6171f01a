/**
 * The Debian kernel package the test VM boots: resolved through apt
 * (`linux-image-<arch>` -> `linux-image-<version>-<arch>`), fetched once with
 * `apt-get download` from the host's configured mirror into the cache's
 * `debs/` folder, and reused from there (offline too) afterwards.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../spawn';

/** The versioned package `apt-cache depends linux-image-<debArch>` names first. */
export function parseKernelDepends(output: string, debArch: string): string | undefined {
  const re = new RegExp(`^\\s*Depends:\\s*(linux-image-\\d[\\w.+-]*-${debArch})\\s*$`);
  for (const line of output.split('\n')) {
    const m = re.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Cached kernel debs for `debArch` (generic flavour only), newest name last. */
export function cachedKernelDebs(names: readonly string[], debArch: string): string[] {
  const re = new RegExp(`^linux-image-\\d[\\w.+-]*-${debArch}_[^_]+_${debArch}\\.deb$`);
  return names.filter((n) => re.test(n) && !/-(cloud|rt|dbg)-/.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * Path of the kernel .deb under `<cacheDir>/debs`, downloading it when the
 * package apt names is not cached yet. Without apt metadata (offline, no
 * lists) the newest cached one is used.
 * @throws Error when apt cannot resolve or fetch it and nothing is cached.
 */
export async function ensureKernelDeb(cacheDir: string, debArch: string, log: (line: string) => void): Promise<string> {
  const debs = path.join(cacheDir, 'debs');
  await fs.mkdir(debs, { recursive: true });
  const cached = async (): Promise<string[]> => cachedKernelDebs(await fs.readdir(debs), debArch);
  let pkg: string | undefined;
  let aptError = '';
  try {
    pkg = parseKernelDepends((await runTool('apt-cache', ['depends', `linux-image-${debArch}`])).stdout, debArch);
    if (pkg === undefined) aptError = `apt-cache names no kernel for linux-image-${debArch}`;
  } catch (err) {
    aptError = (err as Error).message;
  }
  if (pkg === undefined) {
    const have = await cached();
    const last = have[have.length - 1];
    if (last === undefined) throw new Error(`No Debian kernel package: ${aptError}; none cached in ${debs}`);
    log(`apt could not name the kernel (${aptError}); using cached ${last}`);
    return path.join(debs, last);
  }
  const hit = (await cached()).filter((n) => n.startsWith(`${pkg}_`)).pop();
  if (hit !== undefined) return path.join(debs, hit);
  // apt-get download writes into its working directory: a private one, renamed in once complete.
  const partial = await fs.mkdtemp(path.join(debs, '.download-'));
  try {
    log(`downloading ${pkg}`);
    await runTool('apt-get', ['download', '-q', pkg], { cwd: partial });
    const got = cachedKernelDebs(await fs.readdir(partial), debArch)[0];
    if (got === undefined) throw new Error(`apt-get download ${pkg} wrote no package`);
    await fs.rename(path.join(partial, got), path.join(debs, got));
    return path.join(debs, got);
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
}
