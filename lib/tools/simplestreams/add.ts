/** `incus-simplestreams add`: one image into the tree. */
import { type AddImageOptions, addImageToTree } from '../../simplestreams/tree';

/** Adds a unified image (`data` absent) or a metadata + rootfs/squashfs pair; prints nothing on success, as Incus. */
export async function runAdd(tree: string, meta: string, data: string | undefined, opts: AddImageOptions): Promise<string> {
  return addImageToTree(tree, meta, data, opts);
}
