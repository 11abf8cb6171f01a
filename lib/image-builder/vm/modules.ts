/**
 * Kernel module selection (pure): which `.ko` files the test VM's
 * initramfs needs, from the `modules.dep` that `busybox depmod` writes
 * (modules.dep(5): `path.ko: dep.ko dep2.ko ...`, paths relative to
 * /lib/modules/<version>).
 */

/**
 * Modules packed into the initramfs (with their dependencies): virtio
 * transport and devices, the shares Incus uses (9p, virtiofs), ext4, the
 * CD-ROM bits an `agent:config` ISO needs, and the ACPI power button with
 * evdev so `system_powerdown` is seen. Only {@link BOOT_MODULES} are loaded
 * by name; the rest load by device alias (coldplug, mdev) or on mount.
 */
export const GUEST_MODULES: readonly string[] = [
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'sd_mod',
  'sr_mod',
  'isofs',
  'virtio_net',
  'virtio_console',
  '9pnet_virtio',
  '9p',
  'virtiofs',
  'crc32c_generic',
  'ext4',
  'button',
  'evdev',
];

/** Loaded by name at boot: the virtio PCI transport and the power button's input device. */
export const BOOT_MODULES: readonly string[] = ['virtio_pci', 'button', 'evdev'];

/** A module's name as the kernel spells it: the file's base name without `.ko`, `-` read as `_`. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|gz|zst))?$/, '');
  return base.replace(/-/g, '_');
}

/** modules.dep as path -> dependency paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const colon = line.indexOf(':');
    if (line === '' || colon < 0) continue;
    const deps = line.slice(colon + 1).trim();
    out.set(line.slice(0, colon), deps === '' ? [] : deps.split(/\s+/));
  }
  return out;
}

/** What {@link moduleClosure} selected. */
export interface ModuleSelection {
  /** Every module file needed, dependencies before their users. */
  files: string[];
  /** Requested modules that are built into the kernel (nothing to load). */
  builtin: string[];
}

/**
 * The files needed to load `wanted` and, for each, its dependencies.
 * `builtinText` is modules.builtin (paths of built-in modules).
 * @throws Error naming a module that is neither a module file nor built in.
 */
export function moduleClosure(depText: string, builtinText: string, wanted: readonly string[]): ModuleSelection {
  const deps = parseModulesDep(depText);
  const byName = new Map<string, string>();
  for (const p of deps.keys()) byName.set(moduleName(p), p);
  const builtinNames = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));
  const files: string[] = [];
  const seen = new Set<string>();
  const visit = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const d of deps.get(p) ?? []) visit(d);
    files.push(p);
  };
  const builtin: string[] = [];
  for (const w of wanted) {
    const name = moduleName(w);
    const p = byName.get(name);
    if (p !== undefined) visit(p);
    else if (builtinNames.has(name)) builtin.push(name);
    else throw new Error(`Kernel module "${w}" is neither a module nor built into this kernel`);
  }
  return { files, builtin };
}

/** modules.dep restricted to `files` (same lines, same order as `files`). */
export function filteredModulesDep(depText: string, files: readonly string[]): string {
  const deps = parseModulesDep(depText);
  return files.map((f) => `${f}:${(deps.get(f) ?? []).map((d) => ` ${d}`).join('')}\n`).join('');
}

/** modules.alias restricted to aliases of the modules in `files`. */
export function filteredModulesAlias(aliasText: string, files: readonly string[]): string {
  const names = new Set(files.map(moduleName));
  return aliasText
    .split('\n')
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f.length === 3 && f[0] === 'alias' && names.has(moduleName(f[2]!));
    })
    .map((l) => `${l.trim()}\n`)
    .join('');
}
