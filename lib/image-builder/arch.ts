/** Architecture names as Incus spells them (shared/osarch), from kernel or Node names. */

import os from 'node:os';

/** Canonical Incus architecture name for each alias (uname -m, Debian, Go, Node). */
const ALIASES: Record<string, string> = {
  i686: 'i686', i386: 'i686', i586: 'i686', '386': 'i686', x86: 'i686', ia32: 'i686',
  x86_64: 'x86_64', amd64: 'x86_64', x64: 'x86_64',
  armv6l: 'armv6l', armel: 'armv6l', arm: 'armv6l',
  armv7l: 'armv7l', armhf: 'armv7l', armv7: 'armv7l',
  armv8l: 'armv8l',
  aarch64: 'aarch64', arm64: 'aarch64',
  ppc: 'ppc', powerpc: 'ppc',
  ppc64: 'ppc64', powerpc64: 'ppc64',
  ppc64le: 'ppc64le', ppc64el: 'ppc64le',
  s390x: 's390x',
  mips: 'mips', mipsel: 'mips',
  mips64: 'mips64', mips64el: 'mips64',
  riscv32: 'riscv32',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64', loong64: 'loongarch64',
};

/**
 * Maps a machine name (as `uname -m` prints it, or a distribution alias) to
 * the name Incus uses in image metadata.
 * @throws RangeError when the name is not an architecture Incus knows.
 */
export function incusArchitecture(machine: string): string {
  const name = ALIASES[machine];
  if (name === undefined) {
    throw new RangeError(`Architecture isn't supported: ${machine}`);
  }
  return name;
}

/** The Incus architecture name of this host (`uname -m`). */
export function hostArchitecture(): string {
  return incusArchitecture(os.machine());
}
