/**
 * `incus image import|list|info|delete` on any remote (`image alias` comes from
 * image-alias, `show|edit` from image-show, `export|copy|refresh` from image-transfer).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { Image } from '../../api/image';
import type { CliContext } from '../context';
import { formatDate, isZeroTime } from '../format/date';
import { orderKeys } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { imageShape } from '../format/shapes';
import { sortRowsNaturally } from '../format/sort';
import { collect } from '../option-parsers';
import { parseKeyValues } from '../kv';
import { checkReadable } from '../go-path-error';
import { dotPrefixMatch } from '../list-filter';
import { register as registerAlias } from './image-alias';
import { register as registerShow } from './image-show';
import { register as registerTransfer } from './image-transfer';
import { incusOf, listImagesOn, remoteArg, resolveImageOn } from '../image-remote';
import { cliConfig, connect, connectIncus, splitRemote } from '../remotes/connect';

/** Incus default for `image list`: alias, fingerprint, public, description, architecture, type, size, upload date. */
export const DEFAULT_IMAGE_COLUMNS = 'lfpdatsu';
/** The same with the project first (`--all-projects`). */
const DEFAULT_IMAGE_COLUMNS_ALL_PROJECTS = 'elfpdatsu';

type ImageColumn = [name: string, data: (img: Image) => string];

function shortestAlias(img: Image): string {
  let shortest = '';
  for (const a of img.aliases ?? []) {
    if (shortest === '' || (a.name.length !== 0 && a.name.length < shortest.length)) shortest = a.name;
  }
  return shortest;
}

const IMAGE_COLUMNS: Record<string, ImageColumn> = {
  a: ['ARCHITECTURE', (i) => i.architecture],
  d: ['DESCRIPTION', (i) => i.properties?.description ?? ''],
  e: ['PROJECT', (i) => i.project],
  f: ['FINGERPRINT', (i) => i.fingerprint.slice(0, 12)],
  F: ['FINGERPRINT', (i) => i.fingerprint],
  l: [
    'ALIAS',
    (i) => {
      const n = i.aliases?.length ?? 0;
      return n > 1 ? `${shortestAlias(i)} (${n - 1} more)` : shortestAlias(i);
    },
  ],
  L: ['ALIASES', (i) => (i.aliases ?? []).map((a) => a.name).sort().join('\n')],
  p: ['PUBLIC', (i) => (i.public ? 'yes' : 'no')],
  s: ['SIZE', (i) => `${(i.size / 1024 / 1024).toFixed(2)}MiB`],
  t: ['TYPE', (i) => (i.type ? i.type.toUpperCase() : 'CONTAINER')],
  u: ['UPLOAD DATE', (i) => formatDate(i.uploaded_at)],
};

/** Parses an `image list -c` value (letters, or `properties:key`). */
export function parseImageColumns(spec: string): ImageColumn[] {
  const out: ImageColumn[] = [];
  for (const entry of spec.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${spec}'`);
    if (entry.startsWith('properties:')) {
      const key = entry.slice('properties:'.length);
      if (key === '') throw new Error(`Empty property name in '${entry}'`);
      out.push([key.toUpperCase(), (i) => i.properties?.[key] ?? '']);
      continue;
    }
    for (const ch of entry) {
      const c = IMAGE_COLUMNS[ch];
      if (!c) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      out.push(c);
    }
  }
  return out;
}

/** Incus's `image list` filters: `key=value` on properties or fields, else a substring of an alias or fingerprint. */
export function imageMatches(img: Image, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return (img.aliases ?? []).some((a) => a.name.includes(filter)) || img.fingerprint.includes(filter);
  const key = filter.slice(0, eq);
  const value = filter.slice(eq + 1);
  for (const [k, v] of Object.entries(img.properties ?? {})) {
    if (!dotPrefixMatch(key, k)) continue;
    const pattern = value.includes('^') || value.includes('$') ? value : `^${value}$`;
    let re: RegExp | null = null;
    try {
      re = new RegExp(pattern);
    } catch {
      re = null;
    }
    if (re ? re.test(v) : v === value) return true;
  }
  const field = (img as unknown as Record<string, unknown>)[key];
  return field !== undefined && field !== null && typeof field !== 'object' && String(field) === value;
}

/** `image list` options. */
export interface ImageListFlags {
  columns: string;
  format: string;
  allProjects?: boolean;
}

async function listImages(ctx: CliContext, args: string[], flags: ImageListFlags): Promise<number> {
  const spec = parseFormat(flags.format);
  const filters = [...args];
  // `remote:` (or `remote:filter`) first picks the server; simplestreams ones are read directly.
  let remote = cliConfig(ctx).defaultRemote;
  if (filters[0]?.includes(':') && !filters[0].slice(0, filters[0].indexOf(':')).includes('=')) {
    const parsed = splitRemote(ctx, filters.shift()!);
    remote = parsed.remote;
    if (parsed.name !== '') filters.unshift(parsed.name);
  }
  const columns = parseImageColumns(flags.allProjects && flags.columns === DEFAULT_IMAGE_COLUMNS ? DEFAULT_IMAGE_COLUMNS_ALL_PROJECTS : flags.columns);
  const server = connect(ctx, remote);
  const listed = flags.allProjects ? await incusOf(server).getImages(1, { allProjects: true }) : await listImagesOn(server);
  const images = listed.filter((img) => filters.every((f) => imageMatches(img, f)));
  const rows = sortRowsNaturally(images.map((img) => columns.map(([, data]) => data(img))));
  const raw = images.map((img) => orderKeys(img, imageShape));
  ctx.out(renderList(spec, columns.map(([name]) => name), rows, raw));
  return 0;
}

/** `image info` text. */
export function renderImageInfo(info: Image): string {
  const l: string[] = [];
  l.push(`Fingerprint: ${info.fingerprint}`);
  l.push(`Size: ${(info.size / 1024 / 1024).toFixed(2)}MiB`);
  l.push(`Architecture: ${info.architecture}`);
  l.push(`Type: ${info.type || 'container'}`);
  l.push(`Public: ${info.public ? 'yes' : 'no'}`);
  l.push('Timestamps:');
  if (!isZeroTime(info.created_at)) l.push(`    Created: ${formatDate(info.created_at)}`);
  l.push(`    Uploaded: ${formatDate(info.uploaded_at)}`);
  l.push(isZeroTime(info.expires_at) ? '    Expires: never' : `    Expires: ${formatDate(info.expires_at)}`);
  l.push(isZeroTime(info.last_used_at) ? '    Last used: never' : `    Last used: ${formatDate(info.last_used_at)}`);
  l.push('Properties:');
  for (const [k, v] of Object.entries(info.properties ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) l.push(`    ${k}: ${v}`);
  l.push('Aliases:');
  for (const a of info.aliases ?? []) l.push(a.description ? `    - ${a.name} (${a.description})` : `    - ${a.name}`);
  l.push(`Cached: ${info.cached ? 'yes' : 'no'}`);
  l.push(`Auto update: ${info.auto_update ? 'enabled' : 'disabled'}`);
  if (info.update_source) {
    l.push('Source:');
    l.push(`    Server: ${info.update_source.server}`);
    l.push(`    Protocol: ${info.update_source.protocol}`);
    l.push(`    Alias: ${info.update_source.alias}`);
  }
  if (!info.profiles || info.profiles.length === 0) {
    l.push('Profiles: []');
  } else {
    l.push('Profiles:');
    for (const p of info.profiles) l.push(`    - ${p}`);
  }
  return l.join('\n') + '\n';
}

/** `image import` options. */
export interface ImportFlags {
  alias?: string[];
  public?: boolean;
  reuse?: boolean;
}

async function importImage(ctx: CliContext, file: string, rest: string[], flags: ImportFlags): Promise<number> {
  const props: string[] = [];
  let client = ctx.client();
  let rootfs: string | undefined;
  for (const a of rest) {
    if (a.includes('=')) props.push(a);
    else if (a.endsWith(':')) client = connectIncus(ctx, splitRemote(ctx, a).remote);
    else if (rootfs === undefined) rootfs = a;
    else throw new Error(`Unexpected argument: ${a}`);
  }
  if (file.startsWith('http://')) throw new Error('Only https:// is supported for remote image import');
  if (file.startsWith('https://')) throw new Error('Importing images from a URL is not supported yet');
  // Incus opens the files before any request: a missing one fails as os.Open does.
  await checkReadable(file);
  if (rootfs !== undefined) {
    rootfs = path.normalize(rootfs).replace(/(.)\/+$/, '$1');
    await checkReadable(rootfs);
  }
  if ((await fs.promises.stat(file)).isDirectory()) throw new Error('Importing an image from a directory is not supported yet');
  const aliases = flags.alias ?? [];
  if (flags.reuse) {
    // Incus deletes an image whose aliases would all move to the new one.
    const existing = (await client.getImageAliases()).filter((a) => aliases.includes(a.name));
    const seen = new Set<string>();
    for (const a of existing) {
      if (seen.has(a.target)) continue;
      seen.add(a.target);
      const img = await client.getImage(a.target).catch(() => null);
      if (img && (img.aliases ?? []).every((x) => aliases.includes(x.name))) await (await client.deleteImage(a.target)).wait();
    }
  }
  const uploadOpts = { public: flags.public ?? false, aliases, properties: parseKeyValues(props) };
  // A split image: metadata tarball plus rootfs (a qcow2 disk makes it a VM image).
  const { fingerprint } =
    rootfs === undefined
      ? await client.createImageFromFile(file, uploadOpts)
      : await (await import('../../client/image-split-upload')).createImageFromFiles(client, file, rootfs, uploadOpts);
  ctx.say(`Image imported with fingerprint: ${fingerprint}\n`);
  return 0;
}

async function deleteImages(ctx: CliContext, refs: string[]): Promise<number> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      const { server, name } = remoteArg(ctx, ref);
      const { image } = await resolveImageOn(server, name);
      await (await incusOf(server).deleteImage(image.fingerprint)).wait();
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('Manage images');

  image
    .command('import')
    .description('Import images into the image store')
    .argument('<tarball>', 'Unified image tarball, or the metadata tarball of a split image')
    .argument('[args...]', 'Optional rootfs file (split image; a .qcow2 disk for a VM), [<remote>:] and key=value properties')
    .option('--alias <alias>', 'New aliases to add to the image (may be passed multiple times)', collect)
    .option('--public', 'Make image public')
    .option('--reuse', 'If the image alias already exists, delete and create a new one')
    .action(async (file: string, rest: string[], flags: ImportFlags) => {
      ctx.exitCode = await importImage(ctx, file, rest, flags);
    });

  image
    .command('list')
    .alias('ls')
    .description('List images')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_IMAGE_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .option('--all-projects', 'Display images from all projects')
    .action(async (filters: string[], flags: ImageListFlags) => {
      ctx.exitCode = await listImages(ctx, filters, flags);
    });

  image
    .command('info')
    .description('Show useful information about images')
    .argument('<image>', '[<remote>:]<image>')
    .action(async (ref: string) => {
      const { server, name } = remoteArg(ctx, ref);
      const { image: info } = await resolveImageOn(server, name);
      ctx.out(renderImageInfo(info));
    });

  image
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete images')
    .argument('<images...>', '[<remote>:]<image>')
    .action(async (refs: string[]) => {
      ctx.exitCode = await deleteImages(ctx, refs);
    });

  registerAlias(image, ctx);
  registerShow(image, ctx);
  registerTransfer(image, ctx);
}
