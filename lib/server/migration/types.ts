/**
 * Transport negotiation as Incus does it (internal/server/migration):
 * each side lists the transports its pool can use, best first, with
 * feature hints; the offer carries the best, the answer the match.
 */
import type { ContentType, StorageDriverInfo } from '../storage/interface';
import { FsType, FS_TYPE_NAMES, featureList, type MigrationHeader, type RsyncFeatures } from './proto';

export interface MigrationType {
  fs: number;
  features: string[];
}

/** Version of the JSON index frame sent before the volumes (Incus's IndexHeaderVersion). */
export const INDEX_HEADER_VERSION = 1;

/** Features of our btrfs transport (nested subvolumes are refused when received, so not offered). */
export const BTRFS_FEATURES = ['migration_header', 'header_subvolume_uuids'];

/** The transports a pool offers for a volume of `contentType`, best first: btrfs send/receive, then rsync (or block plus rsync). */
export function poolMigrationTypes(info: StorageDriverInfo, config: Record<string, string>, contentType: ContentType): MigrationType[] {
  const off = ['false', '0', 'no', 'off'].includes((config['rsync.compression'] ?? '').toLowerCase());
  const rsync = off ? ['xattrs', 'delete', 'bidirectional'] : ['xattrs', 'delete', 'compress', 'bidirectional'];
  if (contentType === 'block') return [{ fs: FsType.BLOCK_AND_RSYNC, features: rsync }];
  const rsyncType = { fs: FsType.RSYNC, features: rsync };
  return info.name === 'btrfs' ? [{ fs: FsType.BTRFS, features: [...BTRFS_FEATURES] }, rsyncType] : [rsyncType];
}

/** The transport used when nothing better matches. */
export function fallbackType(contentType: ContentType): number {
  return contentType === 'block' ? FsType.BLOCK_AND_RSYNC : FsType.RSYNC;
}

/** The header fields naming the preferred type and the first rsync type's features (Incus's TypesToHeader). */
export function typesToHeader(types: readonly MigrationType[]): MigrationHeader {
  const header: MigrationHeader = { fs: types[0]?.fs ?? FsType.RSYNC };
  if (header.fs === FsType.BTRFS) {
    const f = types[0]!.features;
    header.btrfsFeatures = {
      migration_header: f.includes('migration_header'),
      header_subvolumes: f.includes('header_subvolumes'),
      ...(f.includes('header_subvolume_uuids') ? { header_subvolume_uuids: true } : {}),
    };
  }
  const rsync = types.find((t) => t.fs === FsType.RSYNC || t.fs === FsType.BLOCK_AND_RSYNC);
  if (rsync) {
    const has = (k: string): boolean => rsync.features.includes(k);
    header.rsyncFeatures = { xattrs: has('xattrs'), delete: has('delete'), compress: has('compress'), bidirectional: has('bidirectional') } satisfies RsyncFeatures;
  }
  return header;
}

/** Our types that the offer (or the fallback) allows, each with the features both sides have. */
export function matchTypes(offer: MigrationHeader, fallback: number, ours: readonly MigrationType[]): MigrationType[] {
  const offered = [offer.fs, fallback];
  const out: MigrationType[] = [];
  for (const our of ours) {
    for (const fs of offered) {
      if (fs !== our.fs) continue;
      const theirs = fs === FsType.BTRFS ? featureList(offer.btrfsFeatures) : fs === FsType.RSYNC || fs === FsType.BLOCK_AND_RSYNC ? featureList(offer.rsyncFeatures) : [];
      const common = our.features.filter((f) => theirs.includes(f));
      if (offer.refresh && fs === FsType.BTRFS && !common.includes('header_subvolume_uuids')) continue;
      out.push({ fs, features: common });
    }
  }
  if (out.length === 0) {
    const names = (xs: number[]): string => `[${xs.map((x) => FS_TYPE_NAMES[x] ?? String(x)).join(' ')}]`;
    throw new Error(`No matching migration types found. Offered types: ${names(offered)}, our types: ${names(ours.map((t) => t.fs))}`);
  }
  return out;
}
