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
