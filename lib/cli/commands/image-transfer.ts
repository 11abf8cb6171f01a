/** `incus image export|copy|refresh`: moving images between servers and files. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { Image, ImageAlias } from '../../api/image';
import type { CliContext } from '../context';
import { type RemoteImage, incusOf, remoteArg, resolveImageOn } from '../image-remote';
import { collect } from '../option-parsers';
import { ProgressLine, waitShowingProgress } from '../progress';
import { byteSizeSI as byteSize } from '../format/units';
import { connectIncus, serverAddress, splitRemote } from '../remotes/connect';

type ImagesApi = typeof import('../../client/images');
const imagesApi = (): ImagesApi => require('../../client/images') as ImagesApi;

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Downloads an image's files from its remote into `dest` (meta, and rootfs for a split image). */
async function download(found: RemoteImage, dest: { meta: string; rootfs: string }, line: ProgressLine): Promise<{ metaName: string; rootfsName: string; split: boolean }> {
  const { server, image } = found;
  const started = Date.now();
  const show = (stage: string, n: number, total: number): void => {
    const pct = total > 0 ? Math.min(100, Math.floor((n * 100) / total)) : 0;
    const speed = n / Math.max((Date.now() - started) / 1000, 0.001);
    line.update(`${stage}${pct}% (${byteSize(speed)}/s)`);
  };
  if (server.kind === 'simplestreams') {
    const files = await server.client.getFiles(image.fingerprint);
    const r = await server.client.download(image.fingerprint, { meta: dest.meta, root: dest.rootfs }, { onProgress: (stage, n, t) => show(`${stage}: `, n, t) });
    return { metaName: path.basename(files.meta.path), rootfsName: files.root ? path.basename(files.root.path) : '', split: !!r.rootFile };
  }
  const r = await imagesApi().exportImageToFiles(server.client, image.fingerprint, dest, { onProgress: (n, t) => show('', n, t) });
  return { metaName: r.metaName, rootfsName: r.rootfsName, split: r.rootfsSize > 0 };
}

/** `image export`: target as Incus takes it (a directory, or a file name to which the extension is added). */
async function exportImage(ctx: CliContext, arg: string, target: string | undefined): Promise<void> {
  const { server, name } = remoteArg(ctx, arg);
  const found = await resolveImageOn(server, name);
  const fp = found.image.fingerprint;
  const dir = target === undefined ? '.' : target;
  const targetMeta = target === undefined || isDir(target) ? path.join(dir, fp) : target;
  const targetRootfs = `${targetMeta}.root`;
  const line = new ProgressLine(ctx.io.out, 'Exporting the image: %s', ctx.globals.quiet);
  let r;
  try {
    r = await download(found, { meta: targetMeta, rootfs: targetRootfs }, line);
  } catch (err) {
    fs.rmSync(targetMeta, { force: true });
    fs.rmSync(targetRootfs, { force: true });
    line.done();
    throw err;
  }
  if (!r.split) fs.rmSync(targetRootfs, { force: true });
  if (isDir(dir) && (target === undefined || isDir(target))) {
    if (r.metaName) fs.renameSync(targetMeta, path.join(dir, r.metaName));
    if (r.split && r.rootfsName) fs.renameSync(targetRootfs, path.join(dir, r.rootfsName));
  } else if (!r.split && target !== undefined && r.metaName.includes('.')) {
    fs.renameSync(targetMeta, `${targetMeta}.${r.metaName.split('.').slice(1).join('.')}`);
  }
  line.done('Image exported successfully!');
}

interface CopyFlags {
  alias?: string[];
  copyAliases?: boolean;
  autoUpdate?: boolean;
  public?: boolean;
  vm?: boolean;
  mode: string;
  targetProject?: string;
}

async function copyImage(ctx: CliContext, src: string, dst: string, flags: CopyFlags): Promise<void> {
  if (flags.mode !== 'pull' && flags.autoUpdate) throw new Error('Auto update is only available in pull mode');
  if (flags.mode !== 'pull') throw new Error(`Copy mode "${flags.mode}" is not supported yet (use pull)`);
  const { server, name } = remoteArg(ctx, src);
  const { remote: dstRemote } = splitRemote(ctx, dst.endsWith(':') ? dst : `${dst}:`);
  const target = connectIncus(ctx, dstRemote);
  const sourceAddress = serverAddress(ctx, server.name);
  if (server.kind === 'incus' && sourceAddress === serverAddress(ctx, dstRemote)) {
    throw new Error('The source and target servers must be different');
  }
  const type = flags.vm ? 'virtual-machine' : '';
  let image: Pick<Image, 'fingerprint' | 'public' | 'aliases'>;
  if (server.kind === 'simplestreams' && !flags.copyAliases && (flags.alias ?? []).length === 0) {
    // Image servers are public: the name (alias or fingerprint) goes as is.
    image = { fingerprint: name, public: true, aliases: [] };
  } else {
    image = (await resolveImageOn(server, name, type)).image;
  }
  let ref = image.fingerprint;
  // An alias travels as the name, so the copy can auto-update from it.
  if (image.public && ref !== name && !ref.startsWith(name)) ref = name;
  const aliases: ImageAlias[] = [...(flags.copyAliases ? image.aliases : []), ...(flags.alias ?? []).map((a) => ({ name: a, description: '' }))];
  const secret = !image.public && server.kind === 'incus' ? await imagesApi().getImageSecret(incusOf(server), image.fingerprint) : undefined;
  const op = await imagesApi().createImage(
    target,
    {
      source: {
        type: 'image',
        mode: 'pull',
        server: sourceAddress,
        protocol: server.remote.protocol,
        fingerprint: ref,
        ...(secret ? { secret } : {}),
        ...(type ? { image_type: type } : {}),
        ...(server.kind === 'incus' && server.remote.project ? { project: server.remote.project } : {}),
      },
      aliases,
      auto_update: flags.autoUpdate === true,
      public: flags.public === true,
    },
    { project: flags.targetProject },
  );
  const line = new ProgressLine(ctx.io.out, 'Copying the image: %s', ctx.globals.quiet);
  try {
    await waitShowingProgress(op, line);
  } catch (err) {
    line.done();
    throw err;
  }
  line.done('Image copied successfully!');
}

async function refreshImages(ctx: CliContext, args: string[]): Promise<void> {
  for (const arg of args) {
    const { server, name } = remoteArg(ctx, arg);
    const client = incusOf(server);
    const { image } = await resolveImageOn(server, name);
    const op = await imagesApi().refreshImage(client, image.fingerprint);
    const line = new ProgressLine(ctx.io.out, 'Refreshing the image: %s', ctx.globals.quiet);
    let done;
    try {
      done = await waitShowingProgress(op, line);
    } catch (err) {
      line.done();
      throw err;
    }
    line.done(done.metadata?.refreshed === true ? 'Image refreshed successfully!' : 'Image already up to date.');
  }
}

/** Adds `image export|copy|refresh` to the image command. */
export function register(image: Command, ctx: CliContext): void {
  image
    .command('export')
    .description('Export and download images')
    .argument('<image>', '[<remote>:]<image>')
    .argument('[target]', 'Directory or file name')
    .option('--vm', 'Query virtual machine images')
    .action(async (arg: string, target: string | undefined) => {
      await exportImage(ctx, arg, target);
    });

  image
    .command('copy')
    .alias('cp')
    .description('Copy images between servers')
    .argument('<image>', '[<remote>:]<image>')
    .argument('<remote>', '<remote>:')
    .option('--alias <alias>', 'New aliases to add to the image (may be passed multiple times)', collect)
    .option('--copy-aliases', 'Copy aliases from source')
    .option('--auto-update', 'Keep the image up to date after initial copy')
    .option('--public', 'Make image public')
    .option('--vm', 'Copy virtual machine images')
    .option('--mode <mode>', 'Transfer mode. One of pull (default), push or relay', 'pull')
    .option('--target-project <project>', 'Copy to a project different from the source')
    .action(async (src: string, dst: string, flags: CopyFlags) => {
      await copyImage(ctx, src, dst, flags);
    });

  image
    .command('refresh')
    .description('Refresh images')
    .argument('<images...>', '[<remote>:]<image>')
    .action(async (args: string[]) => {
      await refreshImages(ctx, args);
    });
}
