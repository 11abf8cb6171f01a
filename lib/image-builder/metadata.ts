/** `metadata.yaml` and templates for the busybox image (pure). */

import { stringify } from 'yaml';
import type { ImageMetadata } from '../api/image';

/** What the metadata says about the image. */
export interface BusyboxMetadataInput {
  /** Incus architecture name (`x86_64`). */
  architecture: string;
  /** Busybox version (`1.35.0`). */
  version: string;
  /** Build time, Unix seconds. */
  creationDate: number;
}

/** `20240131_1742`, in UTC: the serial style Incus image servers use. */
export function serialFromUnix(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

/** Template files shipped under `templates/` in the tarball, by file name. */
export const BUSYBOX_TEMPLATES: Readonly<Record<string, string>> = {
  // Incus renders these with the instance's own name, so rcS sets that name.
  'hostname.tpl': '{{ instance.name }}\n',
  'hosts.tpl': '127.0.0.1\tlocalhost\n127.0.1.1\t{{ instance.name }}\n::1\tlocalhost ip6-localhost ip6-loopback\n',
};

/** The metadata object of a busybox image. */
export function busyboxMetadata(input: BusyboxMetadataInput): ImageMetadata {
  if (!Number.isInteger(input.creationDate) || input.creationDate < 0) {
    throw new RangeError(`Invalid creation date: ${input.creationDate}`);
  }
  const serial = serialFromUnix(input.creationDate);
  return {
    architecture: input.architecture,
    creation_date: input.creationDate,
    properties: {
      architecture: input.architecture,
      description: `Busybox ${input.version} ${input.architecture} (${serial})`,
      name: `busybox-${input.version}-${input.architecture}-${serial}`,
      os: 'busybox',
      release: input.version,
    },
    templates: {
      '/etc/hostname': { when: ['create', 'copy'], template: 'hostname.tpl' },
      '/etc/hosts': { when: ['create', 'copy'], template: 'hosts.tpl' },
    },
  };
}

/** Serialises metadata as the YAML document `metadata.yaml` holds. */
export function metadataYaml(meta: ImageMetadata): string {
  return stringify(meta);
}
