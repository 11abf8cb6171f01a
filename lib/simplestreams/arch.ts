/** Architecture names in streams: the image builder's table of Incus names, without throwing. */
import { hostArchitecture as builderHostArchitecture, incusArchitecture } from '../image-builder/arch';

/** Incus's name for an architecture alias (`amd64` -> `x86_64`), or undefined when unknown. */
export function canonicalArchitecture(name: string): string | undefined {
  try {
    return incusArchitecture(name);
  } catch {
    return undefined;
  }
}

/** This host's architecture as Incus names it. */
export function hostArchitecture(): string {
  return builderHostArchitecture();
}
