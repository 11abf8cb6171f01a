/**
 * A unified kernel image: systemd's EFI stub with the kernel, initramfs,
 * command line and os-release added as PE sections by objcopy, so the
 * firmware boots it as \EFI\BOOT\BOOTX64.EFI with no boot loader, menu or
 * shell timeout (systemd-stub(7)).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runTool } from '../spawn';

/** systemd-boot-efi's stub for x86_64. */
export const DEFAULT_EFI_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

/** One section of `objdump -h` output. */
export interface PeSection {
  name: string;
  size: number;
  vma: number;
}

/** Parses `objdump -h` section lines (`Idx Name Size VMA LMA File-off Algn`). */
export function parseObjdumpSections(text: string): PeSection[] {
  const out: PeSection[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 7 || !/^\d+$/.test(f[0]!)) continue;
    out.push({ name: f[1]!, size: parseInt(f[2]!, 16), vma: parseInt(f[3]!, 16) });
  }
  return out;
}

const ALIGN = 0x10000;
const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Where each added section goes: after the stub's last section, in the
 * order given, each aligned to 64 KiB (the kernel last, as systemd-stub
 * recommends, since it may use memory past its file size).
 */
export function sectionLayout(stub: readonly PeSection[], added: readonly { name: string; size: number }[]): { name: string; vma: number }[] {
  let next = alignUp(Math.max(0, ...stub.map((s) => s.vma + s.size)));
  return added.map((a) => {
    const vma = next;
    next = alignUp(vma + a.size);
    return { name: a.name, vma };
  });
}

/** Inputs of {@link buildUki}. */
export interface UkiInput {
  kernel: string;
  initrd: string;
  cmdline: string;
  osRelease: string;
  output: string;
  stub?: string;
  /** Scratch directory for the small section files. */
  workDir: string;
  /** PE header TimeDateStamp, Unix seconds (objcopy writes the current time). */
  timestamp: number;
}

/**
 * Sets a PE file's COFF TimeDateStamp and zeroes its optional-header
 * CheckSum (firmware does not check it for applications), so equal
 * inputs give equal bytes whenever objcopy ran.
 */
export async function setPeTimestamp(file: string, seconds: number): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0x3c);
    const pe = head.readUInt32LE(0);
    const sig = Buffer.alloc(4);
    await fh.read(sig, 0, 4, pe);
    if (sig.toString('latin1') !== 'PE\0\0') throw new Error(`${file} is not a PE image`);
    const stamp = Buffer.alloc(4);
    stamp.writeUInt32LE(seconds >>> 0, 0);
    await fh.write(stamp, 0, 4, pe + 8);
    await fh.write(Buffer.alloc(4), 0, 4, pe + 24 + 64);
  } finally {
    await fh.close();
  }
}

/** Writes the unified kernel image to `input.output`. */
export async function buildUki(input: UkiInput): Promise<void> {
  const stub = input.stub ?? DEFAULT_EFI_STUB;
  await fs.access(stub).catch(() => {
    throw new Error(`EFI stub ${stub} not found (install systemd-boot-efi)`);
  });
  const cmdline = path.join(input.workDir, 'cmdline.txt');
  const osrel = path.join(input.workDir, 'os-release');
  await fs.writeFile(cmdline, input.cmdline);
  await fs.writeFile(osrel, input.osRelease);
  const files: Record<string, string> = { '.osrel': osrel, '.cmdline': cmdline, '.initrd': input.initrd, '.linux': input.kernel };
  const added = await Promise.all(Object.entries(files).map(async ([name, file]) => ({ name, size: (await fs.stat(file)).size })));
  const layout = sectionLayout(parseObjdumpSections((await runTool('objdump', ['-h', stub])).stdout), added);
  const args: string[] = [];
  for (const { name, vma } of layout) {
    args.push('--add-section', `${name}=${files[name]}`, '--change-section-vma', `${name}=0x${vma.toString(16)}`);
  }
  await runTool('objcopy', [...args, stub, input.output]);
  await setPeTimestamp(input.output, input.timestamp);
}
