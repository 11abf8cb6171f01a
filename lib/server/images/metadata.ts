/** Parsing and checking an image's metadata.yaml. */
import { parse } from 'yaml';
import type { ImageMetadata } from '../../api/image';
import { badRequest } from '../errors';

/** Architecture names Incus accepts, mapped to the canonical one. */
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'x86_64',
  amd64: 'x86_64',
  i686: 'i686',
  i386: 'i686',
  aarch64: 'aarch64',
  arm64: 'aarch64',
  armv7l: 'armv7l',
  armhf: 'armv7l',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export function canonicalArchitecture(arch: string): string | undefined {
  return ARCH_ALIASES[arch];
}

export function parseImageMetadata(text: string): ImageMetadata {
  let md: unknown;
  try {
    md = parse(text);
  } catch (err) {
    throw badRequest(`Invalid image metadata.yaml: ${(err as Error).message}`);
  }
  if (!md || typeof md !== 'object') throw badRequest('Invalid image metadata.yaml: not a mapping');
  const m = md as Partial<ImageMetadata>;
  if (typeof m.architecture !== 'string' || !canonicalArchitecture(m.architecture)) {
    throw badRequest(`Invalid image metadata.yaml: unknown architecture "${String(m.architecture)}"`);
  }
  if (m.creation_date !== undefined && typeof m.creation_date !== 'number') {
    throw badRequest('Invalid image metadata.yaml: creation_date must be a number');
  }
  return {
    architecture: canonicalArchitecture(m.architecture) as string,
    creation_date: m.creation_date ?? 0,
    expiry_date: typeof m.expiry_date === 'number' ? m.expiry_date : 0,
    properties: stringMap(m.properties),
    templates: m.templates ?? {},
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
}
