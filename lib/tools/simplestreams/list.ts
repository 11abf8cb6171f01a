/** `incus-simplestreams list`: the tree's images, in Incus's columns. */
import { formatDate } from '../../cli/format/date';
import { parseFormat, renderList } from '../../cli/format/render';
import { sortRowsNaturally } from '../../cli/format/sort';
import { listTree } from '../../simplestreams/tree';

/** The header Incus prints. */
export const LIST_HEADER = ['FINGERPRINT', 'DESCRIPTION', 'OS', 'RELEASE', 'VARIANT', 'ARCHITECTURE', 'TYPE', 'CREATED'];

/** Prints the tree's images in `format` (table, csv, json, yaml, compact). */
export async function runList(tree: string, format: string): Promise<void> {
  const spec = parseFormat(format);
  const images = await listTree(tree);
  const rows = images.map((i) => {
    const p = i.properties ?? {};
    return [i.fingerprint, p.description ?? '', p.os ?? '', p.release ?? '', p.variant ?? '', i.architecture, i.type, formatDate(i.created_at)];
  });
  process.stdout.write(renderList(spec, LIST_HEADER, sortRowsNaturally(rows), images));
}
