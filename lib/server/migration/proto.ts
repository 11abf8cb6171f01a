/**
 * Incus's migration control messages (internal/migration/migrate.proto,
 * proto2): the offer and answer headers, the final success or failure, as
 * binary websocket frames on the `control` channel. Field numbers and names
 * are Incus's so that either side may be a real Incus.
 */
import { Reader, parse, type Type } from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package migration;
enum MigrationFSType { RSYNC = 0; BTRFS = 1; ZFS = 2; RBD = 3; BLOCK_AND_RSYNC = 4; LINSTOR = 5; }
enum CRIUType { CRIU_RSYNC = 0; PHAUL = 1; NONE = 2; VM_QEMU = 3; }
message IDMapType { required bool isuid = 1; required bool isgid = 2; required int32 hostid = 3; required int32 nsid = 4; required int32 maprange = 5; }
message Config { required string key = 1; required string value = 2; }
message Device { required string name = 1; repeated Config config = 2; }
message Snapshot {
  required string name = 1; repeated Config localConfig = 2; repeated string profiles = 3; required bool ephemeral = 4;
  repeated Device localDevices = 5; required int32 architecture = 6; required bool stateful = 7;
  optional int64 creation_date = 8; optional int64 last_used_date = 9; optional int64 expiry_date = 10;
}
message rsyncFeatures { optional bool xattrs = 1; optional bool delete = 2; optional bool compress = 3; optional bool bidirectional = 4; }
message zfsFeatures { optional bool compress = 1; optional bool migration_header = 2; optional bool header_zvols = 3; }
message btrfsFeatures { optional bool migration_header = 1; optional bool header_subvolumes = 2; optional bool header_subvolume_uuids = 3; }
message DependentVolume {
  required string name = 1; required string pool = 2; required string contentType = 3; required MigrationFSType fs = 4;
  optional rsyncFeatures rsyncFeatures = 5; optional zfsFeatures zfsFeatures = 6; optional btrfsFeatures btrfsFeatures = 7;
  optional int64 volumeSize = 8; repeated Snapshot snapshots = 9; optional string deviceName = 10;
}
message MigrationHeader {
  required MigrationFSType fs = 1; optional CRIUType criu = 2; repeated IDMapType idmap = 3; repeated string snapshotNames = 4;
  repeated Snapshot snapshots = 5; optional bool predump = 7; optional rsyncFeatures rsyncFeatures = 8; optional bool refresh = 9;
  optional zfsFeatures zfsFeatures = 10; optional int64 volumeSize = 11; optional btrfsFeatures btrfsFeatures = 12;
  optional uint32 indexHeaderVersion = 13; repeated DependentVolume dependentVolumes = 14;
}
message MigrationControl { required bool success = 1; optional string message = 2; }
`;

export const FsType = { RSYNC: 0, BTRFS: 1, ZFS: 2, RBD: 3, BLOCK_AND_RSYNC: 4, LINSTOR: 5 } as const;
export const CriuType = { CRIU_RSYNC: 0, PHAUL: 1, NONE: 2, VM_QEMU: 3 } as const;
export const FS_TYPE_NAMES = Object.fromEntries(Object.entries(FsType).map(([k, v]) => [v, k])) as Record<number, string>;

export interface ProtoConfig {
  key: string;
  value: string;
}

export interface ProtoSnapshot {
  name: string;
  localConfig?: ProtoConfig[];
  profiles?: string[];
  ephemeral: boolean;
  localDevices?: { name: string; config?: ProtoConfig[] }[];
  architecture: number;
  stateful: boolean;
  creation_date?: number;
  last_used_date?: number;
  expiry_date?: number;
}

export interface IdmapEntry {
  isuid: boolean;
  isgid: boolean;
  hostid: number;
  nsid: number;
  maprange: number;
}

export type RsyncFeatures = Partial<Record<'xattrs' | 'delete' | 'compress' | 'bidirectional', boolean>>;
export type BtrfsFeatures = Partial<Record<'migration_header' | 'header_subvolumes' | 'header_subvolume_uuids', boolean>>;

export interface MigrationHeader {
  fs: number;
  criu?: number;
  idmap?: IdmapEntry[];
  snapshotNames?: string[];
  snapshots?: ProtoSnapshot[];
  predump?: boolean;
  rsyncFeatures?: RsyncFeatures;
  refresh?: boolean;
  volumeSize?: number;
  btrfsFeatures?: BtrfsFeatures;
  indexHeaderVersion?: number;
}

export interface MigrationControl {
  success: boolean;
  message?: string;
}

let types: { header: Type; control: Type } | undefined;
function load(): { header: Type; control: Type } {
  if (!types) {
    const root = parse(SCHEMA, { keepCase: true }).root;
    types = { header: root.lookupType('migration.MigrationHeader'), control: root.lookupType('migration.MigrationControl') };
  }
  return types;
}

const toObject = (t: Type, buf: Uint8Array): unknown => t.toObject(t.decode(buf), { longs: Number, enums: Number, defaults: false, arrays: false });

export function encodeHeader(h: MigrationHeader): Buffer {
  const t = load().header;
  return Buffer.from(t.encode(t.fromObject(h)).finish());
}

export function encodeControl(c: MigrationControl): Buffer {
  const t = load().control;
  return Buffer.from(t.encode(t.fromObject(c)).finish());
}

export function decodeControl(buf: Uint8Array): MigrationControl {
  return toObject(load().control, buf) as MigrationControl;
}

/**
 * A header, or the peer's failure in its place: a header never carries
 * field 2 length-delimited, a MigrationControl's message does (as Incus's
 * ProtoRecvHeader tells them apart).
 */
export function decodeHeader(buf: Uint8Array): MigrationHeader {
  if (hasStringField2(buf)) {
    const c = decodeControl(buf);
    if (!c.success && c.message) throw new Error(c.message);
  }
  return toObject(load().header, buf) as MigrationHeader;
}

function hasStringField2(buf: Uint8Array): boolean {
  const r = Reader.create(buf);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 === 2 && (tag & 7) === 2) return true;
      r.skipType(tag & 7);
    }
  } catch {
    return false;
  }
  return false;
}

/** The names of the features set true (Incus's Get*FeaturesSlice). */
export function featureList(f: Record<string, boolean | undefined> | undefined): string[] {
  return Object.entries(f ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k);
}
