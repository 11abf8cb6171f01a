/** Incus's architecture numbers (shared/osarch), as migration headers carry them. */
const NAMES: Record<number, string> = {
  1: 'i686',
  2: 'x86_64',
  3: 'armv7l',
  4: 'aarch64',
  5: 'ppc',
  6: 'ppc64',
  7: 'ppc64le',
  8: 's390x',
  9: 'mips',
  10: 'mips64',
  11: 'riscv32',
  12: 'riscv64',
  13: 'armv6l',
  14: 'armv8l',
  15: 'loongarch64',
};
const IDS = Object.fromEntries(Object.entries(NAMES).map(([id, n]) => [n, Number(id)])) as Record<string, number>;

export const architectureId = (name: string): number => IDS[name] ?? 0;
export const architectureName = (id: number): string => NAMES[id] ?? '';
