/**
 * Reading and writing the two JSON documents of a tree directly, for the
 * subcommands that edit products in ways lib/simplestreams does not
 * (prune) or only read them (verify).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { indexFor } from '../../simplestreams/build';
import type { Products } from '../../simplestreams/types';

/** Products file, relative to the tree. */
export const PRODUCTS_PATH = 'streams/v1/images.json';
/** Index file, relative to the tree. */
export const INDEX_PATH = 'streams/v1/index.json';

/** The tree's products file. @throws when it is missing or not JSON. */
export async function readProductsFile(tree: string): Promise<Products> {
  return JSON.parse(await readFile(join(tree, PRODUCTS_PATH), 'utf8')) as Products;
}

/** Writes the products file and regenerates the index, each through a temporary file. */
export async function writeProductsFile(tree: string, products: Products): Promise<void> {
  await mkdir(join(tree, 'streams', 'v1'), { recursive: true, mode: 0o755 });
  for (const [path, doc] of [[PRODUCTS_PATH, products], [INDEX_PATH, indexFor(products)]] as const) {
    const tmp = join(tree, `${path}.tmp`);
    await writeFile(tmp, JSON.stringify(doc), { mode: 0o644 });
    await rename(tmp, join(tree, path));
  }
}
