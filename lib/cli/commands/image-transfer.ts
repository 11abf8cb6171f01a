/** `incus image export|copy|refresh`: moving images between servers and files. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { Image, ImageAlias } from '../../api/image';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { type RemoteImage, incusOf, remoteArg, resolveImageOn } from '../image-remote';
import { collect } from '../option-parsers';
import { ProgressLine, waitShowingProgress } from '../progress';
import { byteSizeSI as byteSize } from '../format/units';
import { connectIncus, remoteCertificate, serverAddress, splitRemote } from '../remotes/connect';

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

type CopyMode = 'pull' | 'push' | 'relay';

function copyModeOf(raw: string | undefined): CopyMode {
  const mode = raw || 'pull';
  if (mode !== 'pull' && mode !== 'push' && mode !== 'relay') throw new Error(`Invalid transfer mode "${mode}": use pull, push or relay`);
  return mode;
}

/** Shows `op`'s progress on the copy line until it ends. */
async function waitCopy(ctx: CliContext, wait: (line: ProgressLine) => Promise<unknown>): Promise<void> {
  const line = new ProgressLine(ctx.io.out, 'Copying the image: %s', ctx.globals.quiet);
  try {
    await wait(line);
  } catch (err) {
    line.done();
    throw err;
  }
  line.done('Image copied successfully!');
}

async function copyImage(ctx: CliContext, src: string, dst: string, flags: CopyFlags): Promise<void> {
  const mode = copyModeOf(flags.mode);
  if (mode !== 'pull' && flags.autoUpdate) throw new Error('Auto update is only available in pull mode');
  const { server, name } = remoteArg(ctx, src);
  const { remote: dstRemote } = splitRemote(ctx, dst.endsWith(':') ? dst : `${dst}:`);
  let target = connectIncus(ctx, dstRemote);
  if (flags.targetProject) target = target.useProject(flags.targetProject);
  const sourceAddress = serverAddress(ctx, server.name);
  if (server.kind === 'incus' && sourceAddress === serverAddress(ctx, dstRemote)) {
    throw new Error('The source and target servers must be different');
  }
  if (mode === 'push' && server.kind !== 'incus') throw new Error('Exporting images is not supported by the simplestreams protocol');
  const type = flags.vm ? 'virtual-machine' : '';
  let image: Pick<Image, 'fingerprint' | 'public' | 'aliases' | 'filename' | 'properties' | 'expires_at'>;
  let found: RemoteImage | undefined;
  if (mode === 'pull' && server.kind === 'simplestreams' && !flags.copyAliases && (flags.alias ?? []).length === 0) {
    // Image servers are public: the name (alias or fingerprint) goes as is.
    image = { fingerprint: name, public: true, aliases: [], filename: '', properties: {}, expires_at: '' };
  } else {
    found = await resolveImageOn(server, name, type);
    image = found.image;
  }
  const aliases: ImageAlias[] = [...(flags.copyAliases ? image.aliases : []), ...(flags.alias ?? []).map((a) => ({ name: a, description: '' }))];
  const copy = { aliases, public: flags.public === true };
  if (mode === 'push') {
    const copyApi = require('../../client/image-copy') as typeof import('../../client/image-copy');
    const to = { address: serverAddress(ctx, dstRemote), certificate: remoteCertificate(ctx, dstRemote) };
    const rop = await copyApi.pushImageCopy(incusOf(server), target, image, to, copy);
    await waitCopy(ctx, (line) => waitShowingProgress(rop.progressOf, line).then(() => rop.wait()));
    return;
  }
  if (mode === 'relay' && server.kind === 'simplestreams') {
    await waitCopy(ctx, (line) => relayFromFiles(found!, target, copy, line));
    return;
  }
  if (mode === 'relay') {
    const copyApi = require('../../client/image-copy') as typeof import('../../client/image-copy');
    await waitCopy(ctx, async (line) => {
      const started = Date.now();
      const op = await copyApi.relayImageCopy(incusOf(server), target, image, {
        ...copy,
        onProgress: (n, total) => line.update(`${total > 0 ? Math.min(100, Math.floor((n * 100) / total)) : 0}% (${byteSize(n / Math.max((Date.now() - started) / 1000, 0.001))}/s)`),
      });
      await waitShowingProgress(op, line);
    });
    return;
  }
  let ref = image.fingerprint;
  // An alias travels as the name, so the copy can auto-update from it.
  if (image.public && ref !== name && !ref.startsWith(name)) ref = name;
  const secret = !image.public && server.kind === 'incus' ? await imagesApi().getImageSecret(incusOf(server), image.fingerprint) : undefined;
  const certificate = server.kind === 'incus' ? remoteCertificate(ctx, server.name) : '';
  const op = await imagesApi().createImage(target, {
    source: {
      type: 'image',
      mode: 'pull',
      server: sourceAddress,
      protocol: server.remote.protocol,
      fingerprint: ref,
      ...(certificate ? { certificate } : {}),
      ...(secret ? { secret } : {}),
      ...(type ? { image_type: type } : {}),
      ...(server.kind === 'incus' && server.remote.project ? { project: server.remote.project } : {}),
    },
    aliases,
    auto_update: flags.autoUpdate === true,
    public: flags.public === true,
  });
  await waitCopy(ctx, (line) => waitShowingProgress(op, line));
}

/**
 * Relay from a simplestreams server: its files are downloaded to a
 * temporary directory (they come as separate downloads), then uploaded.
 */
async function relayFromFiles(found: RemoteImage, target: IncusClient, copy: { aliases: ImageAlias[]; public: boolean }, line: ProgressLine): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'incus-image-copy-'));
  try {
    const dest = { meta: path.join(dir, 'meta'), rootfs: path.join(dir, 'rootfs') };
    const got = await download(found, dest, line);
    const opts = { public: copy.public, filename: got.metaName };
    const { uploadSplitImageFiles } = require('../../client/image-split-upload') as typeof import('../../client/image-split-upload');
    const op = got.split ? await uploadSplitImageFiles(target, dest.meta, dest.rootfs, opts) : await target.uploadImageFile(dest.meta, opts);
    await waitShowingProgress(op, line);
    for (const a of copy.aliases) await target.createImageAlias({ name: a.name, target: found.image.fingerprint, description: a.description });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
