/** incus-simplestreams' pure parts: prune retention and generated metadata. */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Products } from '../../lib/simplestreams/types';
import { defaultDescription, metadataYaml } from '../../lib/tools/simplestreams/generate-metadata';
import { runPrune } from '../../lib/tools/simplestreams/prune';
import { verifyTree } from '../../lib/tools/simplestreams/verify';

function treeWith(versions: string[]): { dir: string; products: Products } {
  const dir = mkdtempSync(join(tmpdir(), 'ss-unit-'));
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'streams', 'v1'), { recursive: true });
  const products: Products = { content_id: 'images', datatype: 'image-downloads', format: 'products:1.0', products: {} };
  const p = { aliases: 'x', arch: 'amd64', os: 'x', release: '1', release_title: '1', versions: {} as Products['products'][string]['versions'] };
  for (const v of versions) {
    writeFileSync(join(dir, 'images', `${v}.tar.gz`), v);
    p.versions[v] = { items: { 'incus_combined.tar.gz': { ftype: 'incus_combined.tar.gz', path: `images/${v}.tar.gz`, size: v.length } } };
  }
  products.products['x:1:default:amd64'] = p;
  writeFileSync(join(dir, 'streams', 'v1', 'images.json'), JSON.stringify(products));
  return { dir, products };
}

t.test('prune keeps the newest retention+1 versions and deletes their files', async (t) => {
  const { dir } = treeWith(['20240101_0000', '20240102_0000', '20240103_0000', '20240104_0000']);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dry = await runPrune(dir, { dryRun: true, retention: 1, verbose: false });
  t.same(dry.versions.sort(), ['x:1:default:amd64:20240101_0000', 'x:1:default:amd64:20240102_0000']);
  t.ok(existsSync(join(dir, 'images', '20240101_0000.tar.gz')), 'dry run keeps files');
  const r = await runPrune(dir, { dryRun: false, retention: 1, verbose: false });
  t.same(r.files, ['images/20240101_0000.tar.gz', 'images/20240102_0000.tar.gz']);
  const after = JSON.parse(readFileSync(join(dir, 'streams', 'v1', 'images.json'), 'utf8')) as Products;
  t.same(Object.keys(after.products['x:1:default:amd64']!.versions).sort(), ['20240103_0000', '20240104_0000']);
  t.ok(existsSync(join(dir, 'streams', 'v1', 'index.json')), 'index regenerated');
  t.same(await verifyTree(dir), [], 'what is left verifies (no sha256 listed: sizes only)');
});

t.test('generated metadata', async (t) => {
  const now = new Date(Date.UTC(2024, 2, 23, 20, 5));
  t.equal(defaultDescription('alpine', '3.19', 'default', 'amd64', now), 'alpine 3.19 (default) (amd64) (202403232005)');
  const md = parse(metadataYaml({ os: 'alpine', release: '3.19', variant: 'default', architecture: 'amd64', description: 'd' }, now)) as Record<string, unknown>;
  t.same(md, { architecture: 'x86_64', creation_date: now.getTime() / 1000, properties: { architecture: 'amd64', description: 'd', os: 'alpine', release: '3.19', variant: 'default' } });
});
