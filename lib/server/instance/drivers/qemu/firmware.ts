/**
 * UEFI firmware (EDK2/OVMF) for x86_64 VMs: which code/vars pair to use for
 * a given `security.secureboot` / `security.csm`, and the VM's NVRAM.
 *
 * As Incus does, the vars template is copied into the VM's config directory
 * under its own file name, and `qemu.nvram` is a symlink to it: the link's
 * target says which firmware the NVRAM belongs to, so a later start picks the
 * matching code file, and a change of `security.secureboot` regenerates it.
 *
 * Secure boot is honoured under TCG too: the Microsoft-keyed OVMF boots and
 * enforces signatures there (checked on this stack), so an unsigned guest
 * needs `security.secureboot=false`, exactly as under KVM.
 */
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, lstat, readlink, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** One firmware choice: the read-only code image and the vars template it pairs with. */
export interface FirmwarePair {
  code: string;
  vars: string;
}

/** What the firmware will be used for. */
export type FirmwareUsage = 'generic' | 'secureboot' | 'csm';

/** A directory of firmware files and the pairs (file names) it may hold, per usage. */
export interface FirmwareInstallation {
  path: string;
  usage: Partial<Record<FirmwareUsage, Array<[code: string, vars: string]>>>;
}

/** The name of the NVRAM file (a symlink to the vars copy) in the VM's config directory. */
export const NVRAM_FILE = 'qemu.nvram';

/** Where x86_64 distributions install EDK2, with their file names; first match wins (Incus's order). */
export const X86_64_INSTALLATIONS: readonly FirmwareInstallation[] = [
  {
    path: '/usr/share/OVMF',
    usage: {
      generic: [
        ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd'],
        ['OVMF_CODE.4MB.fd', 'OVMF_VARS.4MB.fd'],
        ['OVMF_CODE.4m.fd', 'OVMF_VARS.4m.fd'],
        ['OVMF_CODE.2MB.fd', 'OVMF_VARS.2MB.fd'],
        ['OVMF_CODE.fd', 'OVMF_VARS.fd'],
      ],
      secureboot: [
        ['OVMF_CODE.4MB.fd', 'OVMF_VARS.4MB.ms.fd'],
        ['OVMF_CODE_4M.ms.fd', 'OVMF_VARS_4M.ms.fd'],
        ['OVMF_CODE_4M.secboot.fd', 'OVMF_VARS_4M.secboot.fd'],
        ['OVMF_CODE.secboot.4m.fd', 'OVMF_VARS.4m.fd'],
        ['OVMF_CODE.secboot.fd', 'OVMF_VARS.secboot.fd'],
        ['OVMF_CODE.2MB.fd', 'OVMF_VARS.2MB.ms.fd'],
        ['OVMF_CODE.fd', 'OVMF_VARS.ms.fd'],
      ],
      csm: [
        ['OVMF_CODE.4MB.CSM.fd', 'OVMF_VARS.4MB.CSM.fd'],
        ['OVMF_CODE.csm.4m.fd', 'OVMF_VARS.4m.fd'],
        ['OVMF_CODE.CSM.fd', 'OVMF_VARS.CSM.fd'],
      ],
    },
  },
  {
    path: '/usr/share/qemu',
    usage: {
      generic: [
        ['ovmf-x86_64-4m-code.bin', 'ovmf-x86_64-4m-vars.bin'],
        ['edk2-x86_64-code.fd', 'edk2-i386-vars.fd'],
      ],
      secureboot: [
        ['ovmf-x86_64-ms-4m-code.bin', 'ovmf-x86_64-ms-4m-vars.bin'],
        ['edk2-x86_64-secure-code.fd', 'edk2-i386-vars.fd'],
      ],
    },
  },
  {
    path: '/usr/share/edk2/x64',
    usage: {
      generic: [
        ['OVMF_CODE.4m.fd', 'OVMF_VARS.4m.fd'],
        ['OVMF_CODE.fd', 'OVMF_VARS.fd'],
      ],
      secureboot: [
        ['OVMF_CODE.secure.4m.fd', 'OVMF_VARS.4m.fd'],
        ['OVMF_CODE.secure.fd', 'OVMF_VARS.fd'],
      ],
    },
  },
];

/** Where to look: INCUS_EDK2_PATH (searched first, as Incus does) and the installations. */
export interface FirmwareSearch {
  /** The value of INCUS_EDK2_PATH, if set. */
  edk2Path?: string;
  /** Override of the installations (tests). */
  installations?: readonly FirmwareInstallation[];
}

/** The usage a VM's config asks for: CSM, else secure boot unless `security.secureboot=false`. */
export function firmwareUsage(config: Readonly<Record<string, string | undefined>>): FirmwareUsage {
  if (isTrue(config['security.csm'])) return 'csm';
  const sb = config['security.secureboot'];
  return sb === undefined || sb === '' || isTrue(sb) ? 'secureboot' : 'generic';
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on'].includes(v.toLowerCase());
}

/** Existing firmware pairs for `usage`, in preference order. */
export function firmwareCandidates(usage: FirmwareUsage, search: FirmwareSearch = {}): FirmwarePair[] {
  if (search.edk2Path && !existsSync(search.edk2Path)) {
    throw new Error(`INCUS_EDK2_PATH set to "${search.edk2Path}" but path doesn't exist`);
  }
  const out: FirmwarePair[] = [];
  for (const inst of search.installations ?? X86_64_INSTALLATIONS) {
    for (const dir of [search.edk2Path, inst.path]) {
      if (!dir || !existsSync(dir)) continue;
      for (const [code, vars] of inst.usage[usage] ?? []) {
        const pair = { code: join(dir, code), vars: join(dir, vars) };
        if (existsSync(pair.code) && existsSync(pair.vars)) out.push(pair);
      }
    }
  }
  return out;
}

function missingFirmware(usage: FirmwareUsage, search: FirmwareSearch): Error {
  const dirs = [search.edk2Path, ...(search.installations ?? X86_64_INSTALLATIONS).map((i) => i.path)].filter(Boolean);
  const what = usage === 'secureboot' ? 'secure boot ' : usage === 'csm' ? 'CSM ' : '';
  const hint = usage === 'secureboot' ? ' (or set security.secureboot=false)' : '';
  return new Error(`Unable to locate a UEFI ${what}firmware in ${dirs.join(', ')}; install OVMF${hint}`);
}

/** The firmware to boot: the code image and the VM's NVRAM path. */
export interface FirmwareSelection {
  code: string;
  /** The VM's NVRAM (`<configDir>/qemu.nvram`, a symlink to its vars copy). */
  nvram: string;
  /** The vars template the NVRAM was made from. */
  varsTemplate: string;
}

/**
 * Makes sure `<configDir>/qemu.nvram` exists for `usage` and returns the
 * firmware to boot with. An NVRAM made for a pair of this usage is kept (its
 * UEFI variables survive restarts); otherwise, or with `reset`, the vars
 * template is copied afresh. Throws a clear Error when no firmware exists.
 */
export async function prepareFirmware(
  configDir: string,
  usage: FirmwareUsage,
  opts: FirmwareSearch & { reset?: boolean } = {},
): Promise<FirmwareSelection> {
  const pairs = firmwareCandidates(usage, opts);
  if (pairs.length === 0) throw missingFirmware(usage, opts);
  const nvram = join(configDir, NVRAM_FILE);

  if (!opts.reset) {
    const current = await nvramTarget(nvram);
    const kept = current === null ? undefined : pairs.find((p) => basename(p.vars) === current);
    if (kept && existsSync(join(configDir, current as string))) {
      return { code: kept.code, nvram, varsTemplate: kept.vars };
    }
  }

  // Remove every vars copy we may have made before (another usage's), then copy the new one.
  const allNames = new Set<string>([NVRAM_FILE]);
  for (const u of ['generic', 'secureboot', 'csm'] as const) {
    for (const p of firmwareCandidates(u, opts)) allNames.add(basename(p.vars));
  }
  for (const name of allNames) await rm(join(configDir, name), { force: true });

  const pair = pairs[0];
  const varsName = basename(pair.vars);
  // Copy the real file, not a symlink into /usr/share.
  await copyFile(realpathSync(pair.vars), join(configDir, varsName));
  if (varsName !== NVRAM_FILE) await symlink(varsName, nvram);
  return { code: pair.code, nvram, varsTemplate: pair.vars };
}

async function nvramTarget(nvram: string): Promise<string | null> {
  try {
    const st = await lstat(nvram);
    return st.isSymbolicLink() ? basename(await readlink(nvram)) : NVRAM_FILE;
  } catch {
    return null;
  }
}

/** Removes the VM's NVRAM and its vars copy (`security.secureboot` changed, or the VM is deleted). */
export async function removeNvram(configDir: string): Promise<void> {
  const target = await nvramTarget(join(configDir, NVRAM_FILE));
  if (target !== null && target !== NVRAM_FILE) await rm(join(configDir, target), { force: true });
  await rm(join(configDir, NVRAM_FILE), { force: true });
}
