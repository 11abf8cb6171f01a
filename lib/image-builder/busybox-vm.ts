/**
 * `incus-image-builder busybox --vm`: a small UEFI-bootable test VM image,
 * split as Incus image servers ship VMs: a metadata tarball (`incus.tar.xz`)
 * and a qcow2 disk (`disk.qcow2`). The disk's EFI system partition holds a
 * unified kernel image: the Debian kernel (downloaded once from the host's
 * mirror, then cached) and an initramfs that is the whole guest (busybox,
 * the virtio modules, an /init that prints a boot marker; see
 * vm/guest-init.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImageMetadata } from '../api/image';
import { hostArchitecture } from './arch';
import { DEFAULT_BUSYBOX, probeBusybox } from './busybox';
import { debianArchitecture } from './debian';
import { metadataYaml, serialFromUnix } from './metadata';
import { COMPRESSIONS, type Compression, createTarball, tarballSuffix } from './tar';
import { builderCacheDir } from './vm/cache-dir';
import { buildEfiDisk } from './vm/disk';
import { KERNEL_CMDLINE } from './vm/guest-init';
import { writeInitramfs } from './vm/initramfs';
import { ensureKernelDeb } from './vm/kernel-package';
import { ensureKernelKit } from './vm/kernel-kit';
import { BOOT_MODULES, GUEST_MODULES } from './vm/modules';
import { buildUki } from './vm/uki';

/** Name of the disk file in the output directory (as on Incus image servers). */
export const VM_DISK_NAME = 'disk.qcow2';
/** Base name of the metadata tarball in the output directory; the suffix follows the compression. */
export const VM_METADATA_BASE = 'incus';

/** Options for {@link buildBusyboxVmImage}. */
export interface BuildBusyboxVmImageOptions {
  /** Directory for the two files; default `busybox-vm-<version>-<arch>` in the working directory. */
  outputDir?: string;
  /** Metadata tarball compression; default `xz`. */
  compression?: Compression;
  /** Static busybox to put in the initramfs; default `/bin/busybox`. */
  busybox?: string;
  /** metadata creation_date and file mtimes, Unix seconds; default now. */
  creationDate?: number;
  /** Download and kernel-kit cache; default {@link builderCacheDir}. */
  cacheDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** The split image written. */
export interface BuiltVmImage {
  /** Output directory. */
  dir: string;
  /** Metadata tarball. */
  metadata: string;
  /** qcow2 disk. */
  disk: string;
  /** Incus fingerprint of a split image: SHA-256 of the metadata bytes then the disk bytes. */
  fingerprint: string;
  /** Both files together, bytes. */
  size: number;
  /** `uname -r` of the guest kernel. */
  kernelVersion: string;
}

/** metadata.yaml of the test VM image. */
export function busyboxVmMetadata(input: { architecture: string; version: string; kernelVersion: string; creationDate: number }): ImageMetadata {
  const serial = serialFromUnix(input.creationDate);
  return {
    architecture: input.architecture,
    creation_date: input.creationDate,
    properties: {
      architecture: input.architecture,
      description: `Busybox ${input.version} ${input.architecture} test VM, kernel ${input.kernelVersion} (${serial})`,
      name: `busybox-vm-${input.version}-${input.architecture}-${serial}`,
      os: 'busybox',
      release: input.version,
      serial,
      variant: 'testvm',
      // The UKI is not signed: Incus refuses secure boot for such images unless the instance turns it off.
      'requirements.secureboot': 'false',
    },
    templates: {},
  };
}

/** SHA-256 and total size of `files` read one after another (a split image's fingerprint). */
export async function hashFiles(files: readonly string[]): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for (const f of files) {
    for await (const chunk of createReadStream(f)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  }
  return { sha256: hash.digest('hex'), size };
}

/** The split image's metadata tarball: metadata.yaml alone (staged under `stage`). */
export async function writeVmMetadata(stage: string, meta: ImageMetadata, output: string, compression: Compression, creationDate: number): Promise<void> {
  const metaStage = path.join(stage, 'meta');
  await fs.mkdir(metaStage);
  await fs.writeFile(path.join(metaStage, 'metadata.yaml'), metadataYaml(meta), { mode: 0o644 });
  await fs.chmod(path.join(metaStage, 'metadata.yaml'), 0o644);
  await createTarball(metaStage, ['metadata.yaml'], output, compression, creationDate);
}

/** Option checks both VM image builders share (RangeError/TypeError naming the option). */
export function checkVmImageOptions(opts: { compression?: Compression; creationDate?: number; outputDir?: string }): void {
  if (opts.compression !== undefined && !COMPRESSIONS.includes(opts.compression)) {
    throw new RangeError(`Invalid compression "${String(opts.compression)}": expected one of ${COMPRESSIONS.join(', ')}`);
  }
  if (opts.creationDate !== undefined && (!Number.isInteger(opts.creationDate) || opts.creationDate < 0)) {
    throw new RangeError(`Invalid creation date: ${opts.creationDate}`);
  }
  if (opts.outputDir !== undefined && opts.outputDir === '') throw new TypeError('The output path must not be empty');
}

/**
 * Builds the split VM image into its output directory. Each file appears
 * under its final name only once complete. Needs objcopy, sgdisk,
 * mkfs.vfat, mtools, qemu-img, dpkg-deb and, on the first run for a kernel,
 * apt-get (the package is then cached).
 */
export async function buildBusyboxVmImage(opts: BuildBusyboxVmImageOptions = {}): Promise<BuiltVmImage> {
  checkVmImageOptions(opts);
  const log = opts.log ?? (() => undefined);
  const architecture = hostArchitecture();
  if (architecture !== 'x86_64') throw new Error(`VM images are built for x86_64 only, not ${architecture}`);
  const compression = opts.compression ?? 'xz';
  const binary = opts.busybox ?? DEFAULT_BUSYBOX;
  const creationDate = opts.creationDate ?? Math.floor(Date.now() / 1000);
  const info = await probeBusybox(binary);
  const cacheDir = opts.cacheDir ?? builderCacheDir();
  const deb = await ensureKernelDeb(cacheDir, debianArchitecture(architecture), log);
  const kit = await ensureKernelKit(cacheDir, deb, GUEST_MODULES, log);

  const dir = path.resolve(opts.outputDir ?? `busybox-vm-${info.version}-${architecture}`);
  await fs.mkdir(dir, { recursive: true });
  const metadata = path.join(dir, `${VM_METADATA_BASE}${tarballSuffix(compression)}`);
  const disk = path.join(dir, VM_DISK_NAME);
  const stage = await fs.mkdtemp(path.join(os.tmpdir(), 'incus-image-builder-vm-'));
  const partial = (f: string): string => `${f}.partial-${process.pid}`;
  try {
    log('initramfs');
    const initrd = path.join(stage, 'initrd.img');
    await writeInitramfs({ busybox: binary, applets: info.applets, kit, bootModules: BOOT_MODULES, mtime: creationDate }, initrd);
    log('unified kernel image');
    const uki = path.join(stage, 'BOOTX64.EFI');
    const osRelease = `NAME="Incus test VM"\nID=incus-testvm\nVERSION_ID="${info.version}"\nPRETTY_NAME="Incus busybox test VM (${kit.kernelVersion})"\n`;
    await buildUki({ kernel: kit.vmlinuz, initrd, cmdline: KERNEL_CMDLINE, osRelease, output: uki, workDir: stage, timestamp: creationDate });
    await fs.utimes(uki, creationDate, creationDate);
    log('disk');
    const seed = (await hashFiles([uki])).sha256;
    await buildEfiDisk({ bootEfi: uki, rawFile: path.join(stage, 'disk.raw'), output: partial(disk), seed, timestamp: creationDate });

    const meta = busyboxVmMetadata({ architecture, version: info.version, kernelVersion: kit.kernelVersion, creationDate });
    await writeVmMetadata(stage, meta, partial(metadata), compression, creationDate);
    await fs.rename(partial(disk), disk);
    await fs.rename(partial(metadata), metadata);
  } finally {
    await fs.rm(partial(disk), { force: true });
    await fs.rm(partial(metadata), { force: true });
    await fs.rm(stage, { recursive: true, force: true });
  }
  const { sha256, size } = await hashFiles([metadata, disk]);
  return { dir, metadata, disk, fingerprint: sha256, size, kernelVersion: kit.kernelVersion };
}
