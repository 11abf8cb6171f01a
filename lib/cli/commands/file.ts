/** `incus file push|pull|delete|create|edit|mount`: files in instances. */
import type { Command } from 'commander';
import { InstanceFiles } from '../../client/files';
import type { CliContext } from '../context';
import { createFile, deleteFiles, type CreateFlags } from '../files/create';
import { editFile } from '../files/edit';
import { sftpListener, sshfsMount } from '../files/mount';
import { parseIdFlag, parseInstancePath } from '../files/paths';
import { pullFiles, type PullFlags } from '../files/pull';
import { pushFiles, type PushFlags } from '../files/push';
import { RemoteFsPool } from '../files/remote-fs';
import { localName } from '../remote';

/** Runs fn with a pool of per-instance file connections, closed afterwards. */
async function withPool<T>(ctx: CliContext, fn: (pool: RemoteFsPool, files: InstanceFiles) => Promise<T>): Promise<T> {
  const files = new InstanceFiles(ctx.client());
  const pool = new RemoteFsPool(files);
  try {
    return await fn(pool, files);
  } finally {
    await pool.close();
  }
}

function idOption(v: string): number {
  return parseIdFlag(v);
}

/** `file push SRC... INSTANCE/PATH`. */
export async function filePush(ctx: CliContext, args: string[], flags: PushFlags): Promise<number> {
  if (args.length < 2) throw new Error('Missing target path');
  const target = parseInstancePath(args[args.length - 1]!);
  await withPool(ctx, (pool) => pushFiles(pool.get(target.instance), args.slice(0, -1), target.path, flags, process.stdin));
  return 0;
}

/** `file pull INSTANCE/PATH... TARGET`. */
export async function filePull(ctx: CliContext, args: string[], flags: PullFlags): Promise<number> {
  if (args.length < 2) throw new Error('Missing target path');
  const target = args[args.length - 1]!;
  const sources = args.slice(0, -1).map(parseInstancePath);
  await withPool(ctx, (pool) =>
    pullFiles(
      sources.map((s) => ({ remote: pool.get(s.instance), path: s.path })),
      target,
      flags,
      process.stdout,
    ),
  );
  return 0;
}

interface MountFlags {
  listen?: string;
  /** false with --no-auth. */
  auth: boolean;
  authUser?: string;
}

/**
 * `file mount INSTANCE[/PATH] [TARGET]`: with a target directory, sshfs
 * mounts PATH there; without, an SSH SFTP listener serves the instance.
 */
export async function fileMount(ctx: CliContext, source: string, target: string | undefined, flags: MountFlags): Promise<number> {
  const rest = localName(source);
  const slash = rest.indexOf('/');
  const instance = slash < 0 ? rest : rest.slice(0, slash);
  const hasPath = slash >= 0;
  let relPath = hasPath ? rest.slice(slash + 1) : '';
  if (target !== undefined) {
    const fs = require('node:fs') as typeof import('node:fs');
    if (!fs.statSync(target).isDirectory()) throw new Error('Target path must be a directory');
    if (flags.listen) throw new Error('Target path and --listen flag cannot be used together');
    if (!hasPath) throw new Error(`An instance path is required for ${source}`);
  } else if (hasPath) {
    throw new Error('Instance path cannot be used in SSH SFTP listener mode');
  }
  const files = new InstanceFiles(ctx.client());
  if (target !== undefined) {
    if (!relPath.startsWith('/')) relPath = `/${relPath}`;
    const conn = await files.sftpConnection(instance).catch((e: Error) => {
      throw new Error(`Failed connecting to instance SFTP: ${e.message}`);
    });
    return sshfsMount(conn, instance, relPath, target, ctx.io.out);
  }
  await ctx.client().getInstance(instance);
  const listener = await sftpListener(() => files.sftpConnection(instance), { listen: flags.listen, noAuth: flags.auth === false, user: flags.authUser }, ctx.io.out, ctx.io.err);
  // Serves until interrupted.
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await listener.close();
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const file = program.command('file').description('Manage files in instances');

  file
    .command('push')
    .description('Push files into instances')
    .argument('<args...>', '<source path>... [<remote>:]<instance>/<path>')
    .option('-p, --create-dirs', 'Create any directories necessary')
    .option('--uid <uid>', "Set the files' UIDs on push", idOption, -1)
    .option('--gid <gid>', "Set the files' GIDs on push", idOption, -1)
    .option('--mode <mode>', "Set the file's perms on push (in recursive mode, only sets the target directory's permissions)")
    .option('-r, --recursive', 'Recursively transfer files')
    .option('-L, --dereference', 'Always follow symbolic links in source path')
    .option('-P, --no-dereference', 'Never follow symbolic links in source path')
    .option('-H, --follow', 'Follow command-line symbolic links in source path')
    .action(async (args: string[], flags: PushFlags) => {
      ctx.exitCode = await filePush(ctx, args, normalizeDeref(flags));
    });

  file
    .command('pull')
    .description('Pull files from instances')
    .argument('<args...>', '[<remote>:]<instance>/<path>... <target path>')
    .option('-p, --create-dirs', 'Create any directories necessary')
    .option('-r, --recursive', 'Recursively transfer files')
    .option('-L, --dereference', 'Always follow symbolic links in source path')
    .option('-P, --no-dereference', 'Never follow symbolic links in source path')
    .option('-H, --follow', 'Follow command-line symbolic links in source path')
    .action(async (args: string[], flags: PullFlags) => {
      ctx.exitCode = await filePull(ctx, args, normalizeDeref(flags));
    });

  file
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete files in instances')
    .argument('<paths...>', '[<remote>:]<instance>/<path>')
    .option('-f, --force', 'Force deleting files, directories, and subdirectories')
    .action(async (paths: string[], flags: { force?: boolean }) => {
      const targets = paths.map(parseInstancePath);
      await withPool(ctx, (_pool, files) => deleteFiles(files, targets, flags.force === true));
      ctx.exitCode = 0;
    });

  file
    .command('create')
    .description('Create files and directories in instances')
    .argument('<path>', '[<remote>:]<instance>/<path>')
    .argument('[symlink-target]', 'Symlink target path')
    .option('-p, --create-dirs', 'Create any directories necessary')
    .option('-f, --force', 'Force creating files or directories')
    .option('--gid <gid>', "Set the file's gid on create", idOption, -1)
    .option('--uid <uid>', "Set the file's uid on create", idOption, -1)
    .option('--mode <mode>', "Set the file's perms on create")
    .option('-t, --type <type>', 'The type to create (file, symlink, or directory)', 'file')
    .action(async (p: string, link: string | undefined, flags: CreateFlags) => {
      const target = parseInstancePath(p);
      await withPool(ctx, (pool) => createFile(pool.get(target.instance), target.path, link, flags));
      ctx.exitCode = 0;
    });

  file
    .command('mount')
    .description('Mount files from instances')
    .argument('<instance>', '[<remote>:]<instance>[/<path>]')
    .argument('[target]', 'Local directory to mount on with sshfs (none: an SSH SFTP listener)')
    .option('--listen <address>', 'Setup SSH SFTP listener on address:port instead of mounting')
    .option('--no-auth', 'Disable authentication when using SSH SFTP listener')
    .option('--auth-user <user>', 'Set authentication user when using SSH SFTP listener')
    .action(async (source: string, target: string | undefined, flags: MountFlags) => {
      ctx.exitCode = await fileMount(ctx, source, target, flags);
    });

  file
    .command('edit')
    .description('Edit files in instances')
    .argument('<path>', '[<remote>:]<instance>/<path>')
    .action(async (p: string) => {
      const target = parseInstancePath(p);
      const tty = require('node:tty') as typeof import('node:tty');
      await withPool(ctx, (pool) =>
        editFile(pool.get(target.instance), target.path, {
          stdin: process.stdin,
          stdout: process.stdout,
          stdinIsTerminal: tty.isatty(0),
          env: ctx.io.env,
        }),
      );
      ctx.exitCode = 0;
    });
}

/**
 * -L and -P share commander's `dereference` key (true, false, or unset
 * when neither was given); the copy code wants Incus's three flags.
 */
function normalizeDeref<T extends { dereference?: boolean; noDereference?: boolean }>(flags: T): T {
  return { ...flags, dereference: flags.dereference === true, noDereference: flags.dereference === false };
}
