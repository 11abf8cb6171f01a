/** Turning an image argument (alias, fingerprint or unique prefix) into an image. */
import type { Image } from '../api/image';
import type { IncusClient } from '../client/client';
import { ApiError, isNotFound } from '../client/errors';
import { localName } from './remote';

/**
 * The one fingerprint in `fingerprints` that starts with `prefix`.
 * @throws ApiError 404 `Image not found` when none does, and
 *   `More than one image matches` when several do (Incus's messages).
 */
export function matchFingerprint(fingerprints: readonly string[], prefix: string): string {
  if (prefix === '') throw new ApiError(400, 'No fingerprint prefix specified for the image');
  const hits = fingerprints.filter((fp) => fp.startsWith(prefix));
  if (hits.length === 0) throw new ApiError(404, 'Image not found');
  if (hits.length > 1) throw new ApiError(400, 'More than one image matches');
  return hits[0]!;
}

/** An image found from a user-supplied reference. */
export interface ResolvedImage {
  image: Image;
  /** Set when the argument was an alias. */
  alias?: string;
}

/**
 * Resolves `ref` (`[local:]alias`, a fingerprint or a unique prefix of one)
 * the way Incus does: alias first (unless `aliases: false`), then the
 * fingerprint or prefix.
 */
export async function resolveImage(
  client: IncusClient,
  ref: string,
  opts: { aliases?: boolean } = {},
): Promise<ResolvedImage> {
  const name = localName(ref);
  if (opts.aliases !== false) {
    try {
      const alias = await client.getImageAlias(name);
      return { image: await client.getImage(alias.target), alias: name };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  try {
    return { image: await client.getImage(name) };
  } catch (err) {
    // Servers that match prefixes themselves never get here; ours may not.
    if (!isNotFound(err)) throw err;
  }
  const fingerprint = matchFingerprint(await client.getImages(0), name);
  return { image: await client.getImage(fingerprint) };
}
