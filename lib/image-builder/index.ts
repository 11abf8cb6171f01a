/** Local image builders: public surface. */

export { buildBusyboxImage, probeBusybox, hashFile, DEFAULT_BUSYBOX } from './busybox';
export type { BuildBusyboxImageOptions, BuiltImage, BusyboxInfo } from './busybox';
export { parseAppletList, parseBusyboxVersion, appletLinkTarget, BUSYBOX_PATH } from './applets';
export { incusArchitecture, hostArchitecture } from './arch';
export { busyboxMetadata, metadataYaml, serialFromUnix, BUSYBOX_TEMPLATES } from './metadata';
export type { BusyboxMetadataInput } from './metadata';
export { importImage } from './import';
export type { ImportImageOptions } from './import';
export type { Compression } from './tar';
export { COMPRESSIONS, tarballSuffix } from './tar';
export { buildBusyboxVmImage, busyboxVmMetadata, VM_DISK_NAME, VM_METADATA_BASE } from './busybox-vm';
export type { BuildBusyboxVmImageOptions, BuiltVmImage } from './busybox-vm';
export { READY_MARKER, LEASE_MARKER, POWEROFF_MARKER, AGENT_MARKER, AGENT_CONFIG_DIR, KERNEL_CMDLINE } from './vm/guest-init';
export { builderCacheDir } from './vm/cache-dir';
