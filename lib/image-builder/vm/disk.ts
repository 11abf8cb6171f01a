/**
 * The VM disk: a GPT disk holding one EFI system partition (FAT, made with
 * mkfs.vfat --offset and filled with mtools, so no loop device or mount is
 * needed) with the UKI as the removable-media boot path
 * \EFI\BOOT\BOOTX64.EFI, converted to qcow2.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { runTool } from '../spawn';

const MiB = 1024 * 1024;
const SECTOR = 512;
/** The partition starts at 1 MiB, as partitioning tools align it. */
const ESP_START_SECTOR = 2048;

/** ESP size in MiB for a payload: room for FAT overhead and a spare, at least 32 MiB. */
export function espSizeMiB(payloadBytes: number): number {
  return Math.max(32, Math.ceil((payloadBytes * 1.1) / MiB) + 4);
}

/** A GUID (text form) derived from `seed` and `label`: equal inputs, equal disk identity. */
export function derivedGuid(seed: string, label: string): string {
  const h = createHash('sha256').update(`${label}\0${seed}`).digest('hex');
  // Version 4 / RFC 4122 variant bits, so tools take it for a well-formed random GUID.
  const v = `${h.slice(0, 12)}4${h.slice(13, 16)}${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 32)}`;
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20, 32)}`.toUpperCase();
}

/** Inputs of {@link buildEfiDisk}. */
export interface EfiDiskInput {
  /** The EFI executable to install as \EFI\BOOT\BOOTX64.EFI. */
  bootEfi: string;
  /** Scratch raw disk path (removed by the caller). */
  rawFile: string;
  /** The qcow2 to write. */
  output: string;
  /** Seeds the disk and partition GUIDs and the FAT volume id. */
  seed: string;
  /** Timestamp of the FAT directory entries, Unix seconds (mtools reads SOURCE_DATE_EPOCH). */
  timestamp: number;
}

/** Builds the raw GPT disk, fills its ESP, converts it to qcow2. */
export async function buildEfiDisk(input: EfiDiskInput): Promise<void> {
  const efiSize = (await fs.stat(input.bootEfi)).size;
  const espMiB = espSizeMiB(efiSize);
  const espSectors = (espMiB * MiB) / SECTOR;
  // 1 MiB before the ESP (GPT, alignment), 1 MiB after it (backup GPT).
  const total = (espMiB + 2) * MiB;
  await fs.rm(input.rawFile, { force: true });
  const fh = await fs.open(input.rawFile, 'wx', 0o600);
  await fh.truncate(total);
  await fh.close();
  await runTool('sgdisk', [
    '--clear',
    `--disk-guid=${derivedGuid(input.seed, 'disk')}`,
    `--new=1:${ESP_START_SECTOR}:${ESP_START_SECTOR + espSectors - 1}`,
    '--typecode=1:ef00',
    '--change-name=1:EFI System',
    `--partition-guid=1:${derivedGuid(input.seed, 'esp')}`,
    input.rawFile,
  ]);
  const volid = derivedGuid(input.seed, 'fat').slice(0, 8);
  await runTool('mkfs.vfat', [
    '--invariant', '-n', 'INCUS-EFI', '-i', volid,
    `--offset=${ESP_START_SECTOR}`, '-h', String(ESP_START_SECTOR),
    input.rawFile, String((espMiB * MiB) / 1024),
  ]);
  const img = `${input.rawFile}@@${ESP_START_SECTOR * SECTOR}`;
  const env = { MTOOLS_SKIP_CHECK: '1', SOURCE_DATE_EPOCH: String(input.timestamp) };
  await runTool('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT'], { env });
  await runTool('mcopy', ['-i', img, '-m', input.bootEfi, '::/EFI/BOOT/BOOTX64.EFI'], { env });
  await runTool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', input.rawFile, input.output]);
}
