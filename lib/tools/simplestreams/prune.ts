/**
 * `incus-simplestreams prune`: drops items whose files are gone, keeps the
 * newest `retention + 1` versions of each product (as Incus counts), then
 * deletes files under `images/` that nothing lists any more.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Products } from '../../simplestreams/types';
import { readProductsFile, writeProductsFile } from './tree-files';

/** prune options. */
export interface PruneOptions {
  dryRun: boolean;
  /** Older versions kept per product besides the newest. */
  retention: number;
  verbose: boolean;
}

/** What prune removed (or would remove, dry-run). */
export interface PruneResult {
  /** `product:version:path` of items whose file was missing. */
  items: string[];
  /** `product:version` of versions past the retention. */
  versions: string[];
  /** Orphaned files, relative to the tree. */
  files: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false;
    throw err;
  });
}

/** Edits `products` in place; resolves with the items and versions dropped and the paths still listed. */
async function pruneProducts(tree: string, products: Products, retention: number): Promise<{ items: string[]; versions: string[]; keep: Set<string> }> {
  const items: string[] = [];
  const versions: string[] = [];
  const keep = new Set<string>();
  for (const [pName, product] of Object.entries(products.products)) {
    for (const [vName, version] of Object.entries(product.versions)) {
      for (const [iName, item] of Object.entries(version.items)) {
        if (await exists(join(tree, item.path))) continue;
        items.push(`${pName}:${vName}:${item.path}`);
        delete version.items[iName];
      }
      if (Object.keys(version.items).length === 0) delete product.versions[vName];
    }
    const names = Object.keys(product.versions).sort().reverse();
    if (names.length === 0) {
      delete products.products[pName];
      continue;
    }
    for (const old of names.slice(retention + 1)) {
      versions.push(`${pName}:${old}`);
      delete product.versions[old];
    }
    for (const v of Object.values(product.versions)) for (const it of Object.values(v.items)) keep.add(it.path);
  }
  return { items, versions, keep };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** Prunes the tree; prints what went when verbose (always for a dry run). */
export async function runPrune(tree: string, opts: PruneOptions): Promise<PruneResult> {
  const products = await readProductsFile(tree);
  const { items, versions, keep } = await pruneProducts(tree, products, opts.retention);
  if (!opts.dryRun) await writeProductsFile(tree, products);
  const files = (await walk(join(tree, 'images'))).map((f) => relative(tree, f)).filter((f) => !keep.has(f)).sort();
  if (!opts.dryRun) for (const f of files) await rm(join(tree, f), { force: true });
  if (opts.verbose) {
    const print = (title: string, list: string[]) => {
      if (list.length) process.stdout.write(`${title}\n${list.join('\n')}\n`);
    };
    print('Following items were removed from images.json:', items);
    print('Following versions were removed:', versions);
    print('Following files were removed:', files);
  }
  return { items, versions, files };
}
