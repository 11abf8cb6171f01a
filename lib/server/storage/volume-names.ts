/**
 * On-disk names of project volumes. Instance and custom volumes of a
 * project other than `default` carry the project as a prefix
 * (`<project>_<name>`, as Incus's project.Instance and
 * project.Instance), so that two projects may each hold a `c1`; custom
 * volumes carry it always, `default` included (`default_<name>`, as
 * project.StorageVolume); image volumes are named by fingerprint alone and
 * shared.
 */
import { DEFAULT_PROJECT } from '../projects/features';
import type { VolumeType } from './interface';

/** The name the storage driver knows a project's instance volume by. */
export function storageName(project: string, name: string): string {
  return project === DEFAULT_PROJECT ? name : `${project}_${name}`;
}

/** The name the storage driver knows a volume of any project-owned type by. */
export function volumeDiskName(type: VolumeType, project: string, name: string): string {
  return type === 'custom' ? `${project}_${name}` : storageName(project, name);
}

/** Splits an on-disk volume name into project and name (a name without `_` is `default`'s). */
export function parseStorageName(diskName: string): { project: string; name: string } {
  const i = diskName.indexOf('_');
  if (i <= 0) return { project: DEFAULT_PROJECT, name: diskName };
  return { project: diskName.slice(0, i), name: diskName.slice(i + 1) };
}

/** Suffix of an ISO custom volume's on-disk name (Incus's genericISOVolumeSuffix). */
export const ISO_SUFFIX = '.iso';

/** The on-disk name of a custom volume, which for an ISO volume carries `.iso`, as Incus names it. */
export function customDiskName(v: { project: string; name: string; contentType: string }): string {
  return volumeDiskName('custom', v.project, v.name) + (v.contentType === 'iso' ? ISO_SUFFIX : '');
}
