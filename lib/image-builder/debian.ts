/**
 * A Debian container image built offline from the host's apt mirror:
 * debootstrap (minbase) plus sysvinit (light, and happy in a container:
 * it stops on the SIGPWR liblxc sends), ifupdown with DHCP on eth0, and
 * the hostname/hosts templates Incus images carry; packed as a unified
 * image with owners and xattrs kept. Needs root (debootstrap chroots).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImageMetadata } from '../api/image';
import { debianMirror, hostAptSources } from './apt-sources';
import { hostArchitecture } from './arch';
import type { BuiltImage } from './busybox';
import { hashFile } from './busybox';
import { BUSYBOX_TEMPLATES, metadataYaml, serialFromUnix } from './metadata';
import { runTool } from './spawn';
import { type Compression, tarballSuffix } from './tar';

/** Packages on top of minbase: init, networking, and the basics `exec` users expect. */
export const DEBIAN_PACKAGES = ['sysvinit-core', 'ifupdown', 'isc-dhcp-client', 'iproute2', 'netbase', 'procps', 'less'];

export interface BuildDebianImageOptions {
  /** Debian suite (default bookworm). */
  release?: string;
  /** Archive URL (default: the host's apt mirror). */
  mirror?: string;
  output?: string;
  compression?: Compression;
  /** Unix seconds recorded as creation_date (default now). */
  creationDate?: number;
  /** Progress lines (debootstrap's own output included). */
  log?: (line: string) => void;
}

/** Debian's name for an Incus architecture. */
export function debianArchitecture(incusArch: string): string {
  const map: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', i686: 'i386', armv7l: 'armhf', ppc64le: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
  const a = map[incusArch];
  if (!a) throw new RangeError(`No Debian architecture for ${incusArch}`);
  return a;
}

/** sysvinit's inittab for a container: no tty gettys, one on the console, SIGPWR halts. */
export const CONTAINER_INITTAB = `# /etc/inittab for a system container (incus-image-builder)
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~~:S:wait:/sbin/sulogin --force
l0:0:wait:/etc/init.d/rc 0
l1:1:wait:/etc/init.d/rc 1
l2:2:wait:/etc/init.d/rc 2
l3:3:wait:/etc/init.d/rc 3
l4:4:wait:/etc/init.d/rc 4
l5:5:wait:/etc/init.d/rc 5
l6:6:wait:/etc/init.d/rc 6
z6:6:respawn:/sbin/sulogin --force
# liblxc stops a container with SIGPWR: halt cleanly.
pf::powerwait:/sbin/init 0
pn::powerfailnow:/sbin/init 0
po::powerokwait:/sbin/init 0
c0:2345:respawn:/sbin/getty -L 115200 console vt102
`;

const INTERFACES = `# Loopback, and DHCP on the container's first NIC.
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
`;

/** metadata.yaml of a Debian image, as Incus's image server describes one. */
export function debianMetadata(arch: string, release: string, creationDate: number): ImageMetadata {
  const serial = serialFromUnix(creationDate);
  const debArch = debianArchitecture(arch);
  return {
    architecture: arch,
    creation_date: creationDate,
    properties: {
      architecture: debArch,
      description: `Debian ${release} ${debArch} (${serial})`,
      name: `debian-${release}-${debArch}-default-${serial}`,
      os: 'debian',
      release,
      serial,
      variant: 'default',
    },
    templates: {
      '/etc/hostname': { when: ['create', 'copy'], template: 'hostname.tpl' },
      '/etc/hosts': { when: ['create', 'copy'], template: 'hosts.tpl' },
    },
  };
}

/** Adjusts a debootstrapped tree for life as a container. */
async function configureRootfs(rootfs: string, mirror: string, release: string): Promise<void> {
  const write = (p: string, text: string, mode = 0o644): Promise<void> => fs.writeFile(path.join(rootfs, p), text, { mode });
  await write('etc/inittab', CONTAINER_INITTAB);
  await fs.mkdir(path.join(rootfs, 'etc/network'), { recursive: true });
  await write('etc/network/interfaces', INTERFACES);
  await write('etc/hostname', 'debian\n');
  await write('etc/hosts', BUSYBOX_TEMPLATES['hosts.tpl']!.replace(/\{\{ instance.name \}\}/g, 'debian'));
  await write('etc/apt/sources.list', `deb ${mirror} ${release} main\n`);
  await write('etc/fstab', '# No filesystems: the container manager mounts what the container needs.\n');
  // Caches and the device nodes debootstrap made: liblxc provides /dev; apt lists would be stale.
  await dropBootstrapLeftovers(rootfs);
}

/** What debootstrap leaves that an image must not carry: apt lists and caches, its log, the device nodes it made. */
export async function dropBootstrapLeftovers(rootfs: string): Promise<void> {
  for (const dir of ['var/lib/apt/lists', 'var/cache/apt/archives', 'dev']) {
    for (const name of await fs.readdir(path.join(rootfs, dir)).catch(() => [] as string[])) {
      if (name === 'partial' || name === 'lock') continue;
      await fs.rm(path.join(rootfs, dir, name), { recursive: true, force: true });
    }
  }
  for (const f of ['var/cache/apt/pkgcache.bin', 'var/cache/apt/srcpkgcache.bin', 'var/log/bootstrap.log']) {
    await fs.rm(path.join(rootfs, f), { force: true });
  }
}

/** Lazily unmounts what a failed debootstrap may have left mounted (proc, sys) before the tree is removed. */
export async function unmountUnder(dir: string): Promise<void> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await runTool('umount', ['-l', p]).catch(() => undefined);
}

/** Runs debootstrap (minbase plus `packages`, their dependencies resolved) into `rootfs`. */
export async function debootstrap(rootfs: string, o: { release: string; debArch: string; mirror: string; packages: readonly string[] }): Promise<void> {
  await runTool('debootstrap', ['--variant=minbase', `--arch=${o.debArch}`, `--include=${o.packages.join(',')}`, o.release, rootfs, o.mirror]);
}

/**
 * Builds the image: debootstrap into a staging directory, configure, pack.
 * The tarball appears at its final path only once complete.
 */
export async function buildDebianImage(opts: BuildDebianImageOptions = {}): Promise<BuiltImage> {
  const release = opts.release ?? 'bookworm';
  if (!/^[a-z][a-z0-9-]*$/.test(release)) throw new RangeError(`Invalid release name: ${release}`);
  const compression = opts.compression ?? 'xz';
  const creationDate = opts.creationDate ?? Math.floor(Date.now() / 1000);
  const arch = hostArchitecture();
  const mirror = opts.mirror ?? debianMirror(hostAptSources(), release);
  const log = opts.log ?? (() => undefined);
  const output = path.resolve(opts.output ?? `debian-${release}-${debianArchitecture(arch)}${tarballSuffix(compression)}`);
  const stage = await fs.mkdtemp(path.join(os.tmpdir(), 'incus-image-builder-debian-'));
  const partial = `${output}.partial-${process.pid}`;
  try {
    const rootfs = path.join(stage, 'rootfs');
    log(`debootstrap ${release} from ${mirror}`);
    await debootstrap(rootfs, { release, debArch: debianArchitecture(arch), mirror, packages: DEBIAN_PACKAGES });
    await configureRootfs(rootfs, mirror, release);
    await fs.writeFile(path.join(stage, 'metadata.yaml'), metadataYaml(debianMetadata(arch, release, creationDate)), { mode: 0o644 });
    await fs.mkdir(path.join(stage, 'templates'), { mode: 0o755 });
    for (const [name, content] of Object.entries(BUSYBOX_TEMPLATES)) {
      await fs.writeFile(path.join(stage, 'templates', name), content, { mode: 0o644 });
    }
    log('packing');
    const flag = compression === 'xz' ? ['--xz'] : compression === 'gzip' ? ['--gzip'] : [];
    await runTool(
      'tar',
      ['--create', ...flag, '--file', partial, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--sort=name', '-C', stage, '--', 'metadata.yaml', 'templates', 'rootfs'],
      { env: { XZ_OPT: '-T0', LC_ALL: 'C' } },
    );
    await fs.rename(partial, output);
  } finally {
    await fs.rm(partial, { force: true });
    await unmountUnder(stage);
    await fs.rm(stage, { recursive: true, force: true });
  }
  const { sha256, size } = await hashFile(output);
  return { path: output, sha256, size };
}
