/**
 * `incus-simplestreams verify`: every file the products file lists must
 * exist with the listed size and SHA256. Unlike Incus, which stops at the
 * first bad file, all problems are reported, one line each.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../../simplestreams/image-file';
import { readProductsFile } from './tree-files';

/** Problems found, each naming the file (relative to the tree). */
export async function verifyTree(tree: string): Promise<string[]> {
  const products = await readProductsFile(tree);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const product of Object.values(products.products ?? {})) {
    for (const version of Object.values(product.versions ?? {})) {
      for (const item of Object.values(version.items ?? {})) {
        if (seen.has(item.path)) continue;
        seen.add(item.path);
        const file = join(tree, item.path);
        const st = await stat(file).catch(() => null);
        if (!st?.isFile()) {
          problems.push(`Missing image file ${JSON.stringify(item.path)}`);
          continue;
        }
        if (st.size !== item.size) {
          problems.push(`File ${JSON.stringify(item.path)} has a different size than listed in the index`);
          continue;
        }
        if (item.sha256 && (await sha256File(file)).sha256 !== item.sha256) {
          problems.push(`File ${JSON.stringify(item.path)} has a different SHA256 hash than listed in the index`);
        }
      }
    }
  }
  return problems;
}

/** Prints problems on stderr; resolves with the exit code (0 when all files are sound). */
export async function runVerify(tree: string): Promise<number> {
  const problems = await verifyTree(tree);
  for (const p of problems) process.stderr.write(`Error: ${p}\n`);
  return problems.length ? 1 : 0;
}
