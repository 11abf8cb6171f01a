/**
 * `incus publish [remote:]instance [remote:] [key=value...]`: an instance
 * as a new image, as Incus does it (a running one only with --force: it is
 * stopped for the publish and started again afterwards; aliases are set or
 * moved once the image exists).
 */
import type { Command } from 'commander';
import type { ImageAlias } from '../../api/image';
import { isNotFound } from '../../client/errors';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { parseKeyValues } from '../kv';
import { instanceWritable } from '../writable';
import { collect } from '../option-parsers';
import { ProgressLine, waitShowingProgress } from '../progress';
import { connectIncus, splitRemote } from '../remotes/connect';

type ImagesApi = typeof import('../../client/images');
const imagesApi = (): ImagesApi => require('../../client/images') as ImagesApi;

/** Incus status code of a stopped instance. */
const STOPPED = 102;

export interface PublishFlags {
  alias?: string[];
  compression?: string;
  public?: boolean;
  force?: boolean;
  expire?: string;
  reuse?: boolean;
  format: string;
}

/** Points each alias at the image: created, or moved when it exists (Incus's ensureImageAliases). */
async function ensureAliases(client: IncusClient, aliases: ImageAlias[], fingerprint: string): Promise<void> {
  for (const a of aliases) {
    try {
      await client.deleteImageAlias(a.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await client.createImageAlias({ name: a.name, target: fingerprint, description: a.description });
  }
}

async function publish(ctx: CliContext, source: string, rest: string[], flags: PublishFlags): Promise<void> {
  const { remote, name } = splitRemote(ctx, source);
  // INSTANCE/SNAPSHOT: published as it is, whatever state the instance is in.
  const isSnapshot = name.includes('/');
  const props: string[] = [];
  let dstRemote = remote;
  for (const a of rest) {
    if (a.endsWith(':') && !a.includes('=')) dstRemote = splitRemote(ctx, a).remote;
    else props.push(a);
  }
  if (dstRemote !== remote) throw new Error('Publishing to another server is not supported yet');
  const client = connectIncus(ctx, remote);
  const aliases: ImageAlias[] = (flags.alias ?? []).map((n) => ({ name: n, description: '' }));
  const existing = (await client.getImageAliases()).filter((a) => aliases.some((x) => x.name === a.name));
  if (!flags.reuse && existing.length > 0) throw new Error(`Aliases already exists: ${existing.map((a) => a.name).join(', ')}`);
  let expires: string | undefined;
  if (flags.expire) {
    const t = Date.parse(flags.expire);
    if (Number.isNaN(t)) throw new Error(`Invalid expiration date: parsing time "${flags.expire}"`);
    expires = new Date(t).toISOString();
  }

  const inst = isSnapshot ? null : await client.getInstance(name);
  const wasRunning = inst !== null && inst.status_code !== 0 && inst.status_code !== STOPPED;
  let restart = false;
  if (wasRunning) {
    if (!flags.force) throw new Error('The instance is currently running. Use --force to have it stopped and restarted');
    // As Incus: an ephemeral instance loses the flag for the stop, so that it is not destroyed.
    if (inst?.ephemeral) await (await client.updateInstance(name, { ...instanceWritable(inst), ephemeral: false })).wait();
    try {
      await (await client.updateInstanceState(name, { action: 'stop', timeout: -1, force: true })).wait();
    } catch {
      throw new Error('Stopping instance failed!');
    }
    restart = true;
    if (inst?.ephemeral) await (await client.updateInstance(name, { ...instanceWritable(await client.getInstance(name)), ephemeral: true })).wait();
  }
  try {
    const properties = parseKeyValues(props);
    const op = await imagesApi().createImage(client, {
      source: { type: isSnapshot ? 'snapshot' : 'instance', name },
      ...(flags.compression ? { compression_algorithm: flags.compression } : {}),
      ...(Object.keys(properties).length > 0 ? { properties } : {}),
      public: flags.public === true,
      ...(expires ? { expires_at: expires } : {}),
      format: flags.format,
    });
    const line = new ProgressLine(ctx.io.out, 'Publishing instance: %s', ctx.globals.quiet);
    let done;
    try {
      done = await waitShowingProgress(op, line);
    } finally {
      line.done();
    }
    const fingerprint = done.metadata?.fingerprint;
    if (typeof fingerprint !== 'string') throw new Error('Bad fingerprint');
    if (flags.reuse) {
      for (const a of existing) {
        const img = await client.getImage(a.target).catch(() => null);
        if (img && img.fingerprint !== fingerprint && img.aliases.every((x) => aliases.some((y) => y.name === x.name))) {
          await (await client.deleteImage(img.fingerprint)).wait();
        }
      }
    }
    await ensureAliases(client, aliases, fingerprint);
    ctx.out(`Instance published with fingerprint: ${fingerprint}\n`);
  } finally {
    if (restart) await (await client.updateInstanceState(name, { action: 'start', timeout: -1 })).wait();
  }
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('publish')
    .description('Publish instances as images')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('[args...]', 'Optional [<remote>:] and key=value properties')
    .option('--alias <alias>', 'New alias to define at target (may be passed multiple times)', collect)
    .option('--compression <algorithm>', 'Compression algorithm to use (`none` for uncompressed)')
    .option('--public', 'Make the image public')
    .option('-f, --force', 'Stop the instance if currently running')
    .option('--expire <date>', 'Image expiration date (format: rfc3339)')
    .option('--reuse', 'If the image alias already exists, delete and create a new one')
    .option('--format <format>', 'Image format', 'unified')
    .action(async (source: string, rest: string[], flags: PublishFlags) => {
      await publish(ctx, source, rest, flags);
    });
}
