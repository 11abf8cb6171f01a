/**
 * The VM disk: a GPT disk holding an EFI system partition (FAT, made with
 * mkfs.vfat --offset and filled with mtools, so no loop device or mount is
 * needed) with the UKI as the removable-media boot path
 * \EFI\BOOT\BOOTX64.EFI and, optionally, a root partition copied in from
 * a filesystem image made beside it; converted to qcow2.
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

/** Where the partitions lie, in 512-byte sectors. */
export interface DiskLayout {
  espStart: number;
  espSectors: number;
  /** Absent without a root partition. */
  root?: { start: number; sectors: number };
  /** The whole disk, bytes. */
  totalBytes: number;
}

/**
 * The partition layout: 1 MiB for the GPT and alignment, the ESP, then
 * with `diskMiB` a root partition filling the disk up to the last MiB
 * (the backup GPT); without, just the ESP and that last MiB.
 * @throws RangeError when `diskMiB` leaves the root no room.
 */
export function diskLayout(espMiB: number, diskMiB?: number): DiskLayout {
  const espSectors = (espMiB * MiB) / SECTOR;
  if (diskMiB === undefined) return { espStart: ESP_START_SECTOR, espSectors, totalBytes: (espMiB + 2) * MiB };
  const rootMiB = diskMiB - espMiB - 2;
  if (!Number.isInteger(diskMiB) || rootMiB < 16) throw new RangeError(`A ${diskMiB} MiB disk leaves no room for a root partition after a ${espMiB} MiB ESP`);
  return {
    espStart: ESP_START_SECTOR,
    espSectors,
    root: { start: ESP_START_SECTOR + espSectors, sectors: (rootMiB * MiB) / SECTOR },
    totalBytes: diskMiB * MiB,
  };
}

/** A root partition for {@link buildEfiDisk}. */
export interface RootPartitionInput {
  /** Size of the whole disk, MiB; the root partition takes what the ESP leaves. */
  diskMiB: number;
  /** Makes the filesystem image (exactly `bytes` long) at `file`, e.g. `mkfs.ext4 -d`. */
  makeFilesystem: (file: string, bytes: number) => Promise<void>;
  /** Scratch path for that image (removed by the caller). */
  file: string;
  /** Partition GUID (the kernel's root=PARTUUID=). */
  partitionGuid: string;
  /** GPT type code for sgdisk (8304: Linux x86-64 root). */
  typecode: string;
  name: string;
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
  /** A root partition after the ESP. */
  root?: RootPartitionInput;
  /** Compressed qcow2 clusters (`qemu-img convert -c`): a third of the size for a full root filesystem. */
  compress?: boolean;
}

/** Builds the raw GPT disk, fills its ESP (and root partition), converts it to qcow2. */
export async function buildEfiDisk(input: EfiDiskInput): Promise<void> {
  const efiSize = (await fs.stat(input.bootEfi)).size;
  const espMiB = espSizeMiB(efiSize);
  const layout = diskLayout(espMiB, input.root?.diskMiB);
  await fs.rm(input.rawFile, { force: true });
  const fh = await fs.open(input.rawFile, 'wx', 0o600);
  await fh.truncate(layout.totalBytes);
  await fh.close();
  const rootArgs = input.root && layout.root
    ? [
        `--new=2:${layout.root.start}:${layout.root.start + layout.root.sectors - 1}`,
        `--typecode=2:${input.root.typecode}`,
        `--change-name=2:${input.root.name}`,
        `--partition-guid=2:${input.root.partitionGuid}`,
      ]
    : [];
  await runTool('sgdisk', [
    '--clear',
    `--disk-guid=${derivedGuid(input.seed, 'disk')}`,
    `--new=1:${layout.espStart}:${layout.espStart + layout.espSectors - 1}`,
    '--typecode=1:ef00',
    '--change-name=1:EFI System',
    `--partition-guid=1:${derivedGuid(input.seed, 'esp')}`,
    ...rootArgs,
    input.rawFile,
  ]);
  const volid = derivedGuid(input.seed, 'fat').slice(0, 8);
  // FAT16 named: with a root partition after it, mkfs.vfat would size the FAT type by the whole disk.
  await runTool('mkfs.vfat', [
    '-F', '16', '--invariant', '-n', 'INCUS-EFI', '-i', volid,
    `--offset=${layout.espStart}`, '-h', String(layout.espStart),
    input.rawFile, String((espMiB * MiB) / 1024),
  ]);
  const img = `${input.rawFile}@@${layout.espStart * SECTOR}`;
  const env = { MTOOLS_SKIP_CHECK: '1', SOURCE_DATE_EPOCH: String(input.timestamp) };
  await runTool('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT'], { env });
  await runTool('mcopy', ['-i', img, '-m', input.bootEfi, '::/EFI/BOOT/BOOTX64.EFI'], { env });
  if (input.root && layout.root) {
    const bytes = layout.root.sectors * SECTOR;
    await input.root.makeFilesystem(input.root.file, bytes);
    // Copied in place, holes kept: the filesystem image is mostly unused space.
    await runTool('dd', [
      `if=${input.root.file}`, `of=${input.rawFile}`, 'bs=1M', `seek=${(layout.root.start * SECTOR) / MiB}`,
      'conv=notrunc,sparse', 'status=none',
    ]);
  }
  await runTool('qemu-img', ['convert', '-q', ...(input.compress === true ? ['-c'] : []), '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', input.rawFile, input.output]);
}
