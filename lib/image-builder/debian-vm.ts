/**
 * `incus-image-builder debian --vm`: a bootable UEFI Debian VM image built
 * offline from the host's apt mirror. debootstrap (minbase, systemd, the
 * Debian kernel, DHCP through systemd-networkd, the agent hook of
 * vm/debian-guest.ts), the initramfs made in the chroot, then a GPT disk
 * with an ESP holding a unified kernel image (the tree's own kernel and
 * initramfs behind systemd's EFI stub) and an ext4 root made by
 * `mkfs.ext4 -d` (no loop device, no mount), packed as a split image:
 * a metadata tarball and disk.qcow2. Needs root (debootstrap chroots).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImageMetadata } from '../api/image';
import { debianMirror, hostAptSources } from './apt-sources';
import { hostArchitecture } from './arch';
import { type BuiltVmImage, checkVmImageOptions, hashFiles, VM_DISK_NAME, VM_METADATA_BASE, writeVmMetadata } from './busybox-vm';
import { debianArchitecture, debianMetadata, debootstrap, dropBootstrapLeftovers, unmountUnder } from './debian';
import { runTool } from './spawn';
import { type Compression, tarballSuffix } from './tar';
import { AGENT_UNIT_NAME, DEBIAN_VM_PACKAGES, ROOT_LABEL, debianVmCmdline, debianVmFiles } from './vm/debian-guest';
import { buildEfiDisk, derivedGuid } from './vm/disk';
import { buildUki } from './vm/uki';

/** Virtual size of the disk, MiB: room to install packages, small once compacted in qcow2. */
export const DEBIAN_VM_DISK_MIB = 4096;

/** Options for {@link buildDebianVmImage}. */
export interface BuildDebianVmImageOptions {
  /** Debian suite (default bookworm). */
  release?: string;
  /** Archive URL (default: the host's apt mirror). */
  mirror?: string;
  /** Directory for the two files; default `debian-vm-<release>-<arch>` in the working directory. */
  outputDir?: string;
  /** Metadata tarball compression; default `xz`. */
  compression?: Compression;
  /** metadata creation_date, Unix seconds; default now. */
  creationDate?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** metadata.yaml of the Debian VM image: the container image's, without templates (nothing renders them in a VM yet), unsigned UKI. */
export function debianVmMetadata(arch: string, release: string, kernelVersion: string, creationDate: number): ImageMetadata {
  const base = debianMetadata(arch, release, creationDate);
  const p = base.properties ?? {};
  return {
    ...base,
    properties: {
      ...p,
      description: `${p.description ?? `Debian ${release}`} VM, kernel ${kernelVersion}`,
      // The UKI is not signed: secure boot must be off for it (security.secureboot=false).
      'requirements.secureboot': 'false',
    },
    templates: {},
  };
}

/** The one file in `dir` named `<prefix><version>`; returns the version. */
async function onlyVersioned(dir: string, prefix: string): Promise<string> {
  const hits = (await fs.readdir(dir)).filter((n) => n.startsWith(prefix));
  if (hits.length !== 1) throw new Error(`Expected one ${prefix}* in ${dir}, found: ${hits.join(', ') || 'none'}`);
  return hits[0]!.slice(prefix.length);
}

/** Makes the debootstrapped tree a VM guest: files, units, initramfs, no host leftovers. */
async function configureGuest(rootfs: string, mirror: string, release: string, log: (line: string) => void): Promise<void> {
  for (const f of debianVmFiles('debian')) {
    const p = path.join(rootfs, f.path);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, f.content, { mode: f.mode });
    await fs.chmod(p, f.mode);
  }
  await fs.writeFile(path.join(rootfs, 'etc/apt/sources.list'), `deb ${mirror} ${release} main\n`);
  // debootstrap copied the host's resolver; networkd's lease does not write one (no resolved).
  await fs.rm(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  await fs.writeFile(path.join(rootfs, 'etc/resolv.conf'), '');
  // Empty: each VM makes its own machine id on first boot.
  await fs.writeFile(path.join(rootfs, 'etc/machine-id'), '');
  await fs.rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  await runTool('chroot', [rootfs, 'systemctl', 'enable', 'systemd-networkd.service', AGENT_UNIT_NAME]);
  log('initramfs');
  await runTool('chroot', [rootfs, 'update-initramfs', '-u', '-k', 'all']);
  await dropBootstrapLeftovers(rootfs);
}

function validate(opts: BuildDebianVmImageOptions): void {
  if (opts.release !== undefined && !/^[a-z][a-z0-9-]*$/.test(opts.release)) throw new RangeError(`Invalid release name: ${opts.release}`);
  checkVmImageOptions(opts);
}

/**
 * Builds the split VM image into its output directory; each file appears
 * under its final name only once complete. Needs root, debootstrap,
 * chroot, mkfs.ext4 (-d), sgdisk, mkfs.vfat, mtools, objcopy, the
 * systemd EFI stub and qemu-img.
 */
export async function buildDebianVmImage(opts: BuildDebianVmImageOptions = {}): Promise<BuiltVmImage> {
  validate(opts);
  const log = opts.log ?? (() => undefined);
  const architecture = hostArchitecture();
  if (architecture !== 'x86_64') throw new Error(`VM images are built for x86_64 only, not ${architecture}`);
  const release = opts.release ?? 'bookworm';
  const compression = opts.compression ?? 'xz';
  const creationDate = opts.creationDate ?? Math.floor(Date.now() / 1000);
  const mirror = opts.mirror ?? debianMirror(hostAptSources(), release);
  const debArch = debianArchitecture(architecture);

  const dir = path.resolve(opts.outputDir ?? `debian-vm-${release}-${debArch}`);
  await fs.mkdir(dir, { recursive: true });
  const metadata = path.join(dir, `${VM_METADATA_BASE}${tarballSuffix(compression)}`);
  const disk = path.join(dir, VM_DISK_NAME);
  const stage = await fs.mkdtemp(path.join(os.tmpdir(), 'incus-image-builder-debian-vm-'));
  const partial = (f: string): string => `${f}.partial-${process.pid}`;
  let kernelVersion: string;
  try {
    const rootfs = path.join(stage, 'rootfs');
    log(`debootstrap ${release} from ${mirror}`);
    await debootstrap(rootfs, { release, debArch, mirror, packages: DEBIAN_VM_PACKAGES });
    await configureGuest(rootfs, mirror, release, log);
    kernelVersion = await onlyVersioned(path.join(rootfs, 'boot'), 'vmlinuz-');
    const initrd = path.join(rootfs, 'boot', `initrd.img-${kernelVersion}`);

    // Disk identity from the release and date: equal inputs, equal GUIDs.
    const seed = createHash('sha256').update(`debian-vm\0${release}\0${creationDate}`).digest('hex');
    const rootGuid = derivedGuid(seed, 'root');
    log('unified kernel image');
    const uki = path.join(stage, 'BOOTX64.EFI');
    await buildUki({
      kernel: path.join(rootfs, 'boot', `vmlinuz-${kernelVersion}`),
      initrd,
      cmdline: debianVmCmdline(rootGuid),
      osRelease: await fs.readFile(path.join(rootfs, 'etc/os-release'), 'utf8'),
      output: uki,
      workDir: stage,
      timestamp: creationDate,
    });
    log('disk');
    await buildEfiDisk({
      bootEfi: uki,
      rawFile: path.join(stage, 'disk.raw'),
      output: partial(disk),
      seed,
      timestamp: creationDate,
      compress: true,
      root: {
        diskMiB: DEBIAN_VM_DISK_MIB,
        file: path.join(stage, 'root.ext4'),
        partitionGuid: rootGuid,
        typecode: '8304',
        name: 'Debian root',
        makeFilesystem: async (file, bytes) => {
          await fs.rm(file, { force: true });
          const fh = await fs.open(file, 'wx', 0o600);
          await fh.truncate(bytes);
          await fh.close();
          await runTool('mkfs.ext4', ['-q', '-F', '-L', ROOT_LABEL, '-U', derivedGuid(seed, 'rootfs').toLowerCase(), '-E', 'root_owner=0:0', '-d', rootfs, file, `${bytes / 1024}k`]);
        },
      },
    });

    await writeVmMetadata(stage, debianVmMetadata(architecture, release, kernelVersion, creationDate), partial(metadata), compression, creationDate);
    await fs.rename(partial(disk), disk);
    await fs.rename(partial(metadata), metadata);
  } finally {
    await fs.rm(partial(disk), { force: true });
    await fs.rm(partial(metadata), { force: true });
    await unmountUnder(stage);
    await fs.rm(stage, { recursive: true, force: true });
  }
  const { sha256, size } = await hashFiles([metadata, disk]);
  return { dir, metadata, disk, fingerprint: sha256, size, kernelVersion };
}
