/** `incus-simplestreams remove`: one image (by fingerprint or unique prefix) out of the tree. */
import { listTree, removeImageFromTree } from '../../simplestreams/tree';

/**
 * Resolves a fingerprint prefix against the tree.
 * @throws when nothing or more than one image matches.
 */
export async function resolveFingerprint(tree: string, prefix: string): Promise<string> {
  const fps = [...new Set((await listTree(tree)).map((i) => i.fingerprint))].filter((f) => f.startsWith(prefix));
  if (fps.length === 0) throw new Error(`Image not found: ${prefix}`);
  if (fps.length > 1) throw new Error(`More than one image matches ${prefix}`);
  return fps[0]!;
}

/** Removes the image and the files no other image uses. */
export async function runRemove(tree: string, prefix: string, verbose: boolean): Promise<void> {
  const fp = await resolveFingerprint(tree, prefix);
  await removeImageFromTree(tree, fp);
  if (verbose) process.stdout.write(`deleted: ${fp}\n`);
}
