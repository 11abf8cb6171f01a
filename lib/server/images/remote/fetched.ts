/** What a remote fetch hands to the image store, whichever protocol fetched it. */
import type { Image } from '../../../api/image';

/** Download progress: which file, bytes so far, bytes expected. */
export type ProgressFn = (stage: 'metadata' | 'rootfs', received: number, total: number) => void;

/** Verified files of a remote image, on local disk. */
export interface Fetched {
  /** The remote's description of the image (fingerprint checked against the files). */
  image: Image;
  metaFile: string;
  /** Set for a split image. */
  rootFile?: string;
  size: number;
}
