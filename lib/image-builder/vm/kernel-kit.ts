/**
 * The "kernel kit" derived once from a kernel .deb and kept in the cache:
 * the kernel image plus only the modules the test VM loads (with their
 * dependencies and a matching modules.dep), so later builds skip the
 * 400 MB extraction and the depmod run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../spawn';
import { filteredModulesAlias, filteredModulesDep, moduleClosure } from './modules';

/** Bumped when the kit's layout changes, so old kits are not reused. */
const KIT_FORMAT = 2;

/** A kit on disk. */
export interface KernelKit {
  /** Kit directory. */
  dir: string;
  /** `uname -r` of the kernel (`6.1.0-57-amd64`). */
  kernelVersion: string;
  /** The kernel image (an EFI-stub bzImage). */
  vmlinuz: string;
  /** `<dir>/lib/modules/<kernelVersion>`: the selected .ko files, modules.dep, modules.alias, modules.builtin. */
  modulesDir: string;
  /** Module files relative to modulesDir, dependencies first. */
  moduleFiles: string[];
}

interface KitJson {
  format: number;
  kernelVersion: string;
  moduleFiles: string[];
}

/** Kit folder name for a deb and a module list: changes when either does. */
export function kitName(debFile: string, modules: readonly string[]): string {
  const h = createHash('sha256').update(JSON.stringify({ KIT_FORMAT, modules })).digest('hex').slice(0, 12);
  return `${path.basename(debFile).replace(/\.deb$/, '')}-${h}`;
}

async function readKit(dir: string): Promise<KernelKit | null> {
  try {
    const j = JSON.parse(await fs.readFile(path.join(dir, 'kit.json'), 'utf8')) as KitJson;
    if (j.format !== KIT_FORMAT) return null;
    return {
      dir,
      kernelVersion: j.kernelVersion,
      vmlinuz: path.join(dir, 'vmlinuz'),
      modulesDir: path.join(dir, 'lib', 'modules', j.kernelVersion),
      moduleFiles: j.moduleFiles,
    };
  } catch {
    return null;
  }
}

/**
 * The kit for `debFile` and `modules` under `<cacheDir>/kits`, made when
 * missing: extract the package, `busybox depmod`, copy the closure of the
 * wanted modules. The kit appears at its final path only once complete.
 */
export async function ensureKernelKit(cacheDir: string, debFile: string, modules: readonly string[], log: (line: string) => void): Promise<KernelKit> {
  const kits = path.join(cacheDir, 'kits');
  const final = path.join(kits, kitName(debFile, modules));
  const existing = await readKit(final);
  if (existing) return existing;
  await fs.mkdir(kits, { recursive: true });
  const work = await fs.mkdtemp(path.join(kits, '.build-'));
  try {
    const full = path.join(work, 'pkg');
    log(`extracting ${path.basename(debFile)}`);
    await runTool('dpkg-deb', ['-x', debFile, full]);
    const versions = await fs.readdir(path.join(full, 'lib', 'modules'));
    const kernelVersion = versions[0];
    if (versions.length !== 1 || kernelVersion === undefined) throw new Error(`Expected one kernel in ${path.basename(debFile)}, found: ${versions.join(', ')}`);
    await runTool('busybox', ['depmod', '-b', full, kernelVersion]);
    const src = path.join(full, 'lib', 'modules', kernelVersion);
    const depText = await fs.readFile(path.join(src, 'modules.dep'), 'utf8');
    const builtinText = await fs.readFile(path.join(src, 'modules.builtin'), 'utf8').catch(() => '');
    const sel = moduleClosure(depText, builtinText, modules);

    const kit = path.join(work, 'kit');
    const dst = path.join(kit, 'lib', 'modules', kernelVersion);
    await fs.mkdir(dst, { recursive: true });
    for (const f of sel.files) {
      await fs.mkdir(path.dirname(path.join(dst, f)), { recursive: true });
      await fs.copyFile(path.join(src, f), path.join(dst, f));
    }
    await fs.writeFile(path.join(dst, 'modules.dep'), filteredModulesDep(depText, sel.files));
    await fs.writeFile(path.join(dst, 'modules.alias'), filteredModulesAlias(await fs.readFile(path.join(src, 'modules.alias'), 'utf8'), sel.files));
    await fs.writeFile(path.join(dst, 'modules.builtin'), builtinText);
    await fs.copyFile(path.join(full, 'boot', `vmlinuz-${kernelVersion}`), path.join(kit, 'vmlinuz'));
    const json: KitJson = { format: KIT_FORMAT, kernelVersion, moduleFiles: sel.files };
    await fs.writeFile(path.join(kit, 'kit.json'), `${JSON.stringify(json, null, 2)}\n`);
    // Another build may have finished the same kit meanwhile: keep theirs.
    await fs.rename(kit, final).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    // Kits of this package for an older format or module list are dead weight now.
    const prefix = path.basename(debFile).replace(/\.deb$/, '');
    for (const n of await fs.readdir(kits)) {
      if (n.startsWith(`${prefix}-`) && path.join(kits, n) !== final) await fs.rm(path.join(kits, n), { recursive: true, force: true });
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const made = await readKit(final);
  if (!made) throw new Error(`Kernel kit ${final} is unreadable`);
  return made;
}
