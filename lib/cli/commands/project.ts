/**
 * `incus project ...`: create, delete, edit, get, get-current, info, list,
 * rename, set, show, switch and unset, on any Incus remote. `switch` stores
 * the project in the remote's entry of config.yml; every later command on
 * that remote uses it unless `--project` (or $INCUS_PROJECT) overrides it.
 */
import type { Command } from 'commander';
import type { Project, ProjectPut } from '../../api/project';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, pairsToMap, parseKeyValuesLeft, tooManyArguments } from '../config-args';
import { runEdit } from '../edit-loop';
import { orderKeys } from '../format/go-order';
import { renderYaml } from '../format/yaml';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { saveConfig } from '../remotes/config';
import { cliConfig, connectIncus, splitRemote } from '../remotes/connect';
import { processTerminal, type Terminal } from '../terminal';
import { sameValue } from '../writable';
import { decodeYaml, PROJECT_PUT } from '../yaml-decode';
import { DEFAULT_PROJECT_COLUMNS, matchProject, projectInfoText, projectListText, projectServerFilters, projectShape, type ProjectListFlags } from './project-list';

type ProjectsApi = typeof import('../../client/projects');
const api = (): ProjectsApi => require('../../client/projects') as ProjectsApi;

/** Flags of `project get|set|unset`. */
interface PropertyFlags {
  property?: boolean;
}

/** A `[<remote>:]<project>` argument, resolved. */
interface ProjectTarget {
  remote: string;
  name: string;
  client: IncusClient;
  /** As Incus names it in messages: `remote:name` unless the remote is the default one. */
  shown: string;
}

function target(ctx: CliContext, arg: string): ProjectTarget {
  const { remote, name } = splitRemote(ctx, arg);
  const shown = remote === cliConfig(ctx).defaultRemote ? name : `${remote}:${name}`;
  return { remote, name, client: connectIncus(ctx, remote), shown };
}

function projectWritable(p: Project): ProjectPut {
  return { config: { ...(p.config ?? {}) }, description: p.description ?? '' };
}

/** `project show`: the project as YAML in Go's field order. */
export function projectText(p: Project): string {
  return renderYaml(orderKeys(p, projectShape));
}

const EDIT_HELP = [
  '### This is a YAML representation of the project.',
  "### Any line starting with a '# will be ignored.",
  '###',
  '### A project consists of a set of features and a description.',
  '###',
  '### An example would look like:',
  '### config:',
  '###   features.images: "true"',
  '###   features.networks: "true"',
  '###   features.networks.zones: "true"',
  '###   features.profiles: "true"',
  '###   features.storage.buckets: "true"',
  '###   features.storage.volumes: "true"',
  '### description: My own project',
  '### name: my-project',
  '###',
  '### Note that the name is shown but cannot be changed',
].join('\n');

/**
 * `--config k=v` values of `project create` as a map.
 * @throws Error `Bad key=value pair: "x"` for an entry without `=`.
 */
export function configFlags(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`Bad key=value pair: ${JSON.stringify(entry)}`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

async function createProject(ctx: CliContext, arg: string, flags: { config: string[]; description?: string }, term: Terminal): Promise<number> {
  const t = target(ctx, arg);
  const put: ProjectPut = term.stdinIsTerminal() ? { config: {}, description: '' } : decodeYaml<ProjectPut>(term.readStdin(), PROJECT_PUT);
  // Incus applies --config only when stdin gave no config.
  if (Object.keys(put.config).length === 0) put.config = configFlags(flags.config);
  if (flags.description) put.description = flags.description;
  await api().createProject(t.client, { name: t.name, ...put });
  ctx.say(`Project ${t.shown} created\n`);
  return 0;
}

async function deleteProjects(ctx: CliContext, args: string[], flags: { force?: boolean }): Promise<number> {
  const errors: string[] = [];
  for (const arg of args) {
    try {
      const t = target(ctx, arg);
      if (flags.force) {
        ctx.out(`Remove ${t.shown} and everything it contains (instances, images, volumes, networks, ...) (yes/no): `);
        const { readLine } = require('../read-line') as typeof import('../read-line');
        if ((await readLine()).toLowerCase() !== 'yes') throw new Error('User aborted delete operation');
      }
      await api().deleteProject(t.client, t.name, { force: flags.force });
      ctx.say(`Project ${t.shown} deleted\n`);
      // The remote no longer has that project: forget it as its current one.
      const conf = cliConfig(ctx);
      const remote = conf.remotes[t.remote];
      if (remote && remote.project === t.name) {
        remote.project = undefined;
        saveConfig(conf, ctx.io.env);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return 0;
}

async function editProject(ctx: CliContext, arg: string, term: Terminal): Promise<number> {
  const t = target(ctx, arg);
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const decode = (text: string): ProjectPut => decodeYaml<ProjectPut>(text, PROJECT_PUT);
  const session = async () => {
    const { value, etag } = await api().getProjectWithEtag(t.client, t.name);
    const current = projectWritable(value);
    return {
      text: `${EDIT_HELP}\n\n${projectText(value)}`,
      decode,
      unchanged: (put: ProjectPut) => (['config', 'description'] as const).every((f) => sameValue(put[f], current[f])),
      save: (put: ProjectPut) => api().updateProject(t.client, t.name, put, { etag }),
    };
  };
  await runEdit(io, term, session, (text) => api().updateProject(t.client, t.name, decode(text)));
  return 0;
}

async function getProjectKey(ctx: CliContext, arg: string, key: string, flags: PropertyFlags): Promise<number> {
  const t = target(ctx, arg);
  const project = await api().getProject(t.client, t.name);
  if (!flags.property) {
    ctx.out(`${project.config?.[key] ?? ''}\n`);
    return 0;
  }
  try {
    ctx.out(`${getProperty(projectWritable(project), PROJECT_PUT, key)}\n`);
  } catch (err) {
    throw new Error(`The property ${JSON.stringify(key)} does not exist on the project ${JSON.stringify(t.shown)}: ${(err as Error).message}`);
  }
  return 0;
}

/** Reads the project with its ETag, applies `change` to its writable part and PUTs it back. */
async function changeProject(t: ProjectTarget, change: (put: ProjectPut) => void): Promise<void> {
  const { value, etag } = await api().getProjectWithEtag(t.client, t.name);
  const put = projectWritable(value);
  change(put);
  await api().updateProject(t.client, t.name, put, { etag });
}

async function setProjectKeys(ctx: CliContext, arg: string, args: string[], flags: PropertyFlags, term: Terminal): Promise<number> {
  const kv = parseKeyValuesLeft(args, 1);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  const values = pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
  await changeProject(target(ctx, arg), (put) => {
    if (flags.property) setProperties(put, PROJECT_PUT, values);
    else Object.assign(put.config, values);
  });
  return 0;
}

async function unsetProjectKeys(ctx: CliContext, arg: string, keys: string[], flags: PropertyFlags): Promise<number> {
  await changeProject(target(ctx, arg), (put) => {
    if (!flags.property) {
      for (const k of keys) delete put.config[k];
      return;
    }
    try {
      unsetProperties(put, PROJECT_PUT, keys);
    } catch (err) {
      throw new Error((err as Error).message.replace(/^Error unsetting properties: /, 'Error unsetting property: '));
    }
  });
  return 0;
}

async function listProjects(ctx: CliContext, args: string[], flags: ProjectListFlags): Promise<number> {
  const filters = [...args];
  const remote = filters[0]?.endsWith(':') ? filters.shift()!.slice(0, -1) : cliConfig(ctx).defaultRemote;
  const client = connectIncus(ctx, remote);
  const expressions = projectServerFilters(filters);
  const projects = (await api().getProjects(client)).filter((p) => matchProject(p, expressions));
  ctx.out(projectListText(projects, ctx.remoteProject(remote) ?? 'default', flags));
  return 0;
}

async function renameProject(ctx: CliContext, arg: string, newName: string): Promise<number> {
  const t = target(ctx, arg);
  const op = await api().renameProject(t.client, t.name, newName);
  await op.wait();
  ctx.say(`Project ${t.shown} renamed to ${newName}\n`);
  return 0;
}

async function switchProject(ctx: CliContext, arg: string): Promise<number> {
  const t = target(ctx, arg);
  await api().getProject(t.client, t.name);
  const conf = cliConfig(ctx);
  const remote = conf.remotes[t.remote];
  if (!remote) throw new Error(`The remote "${t.remote}" doesn't exist`);
  remote.project = t.name;
  saveConfig(conf, ctx.io.env);
  return 0;
}

async function currentProject(ctx: CliContext, arg: string | undefined): Promise<number> {
  const remote = arg === undefined ? cliConfig(ctx).defaultRemote : splitRemote(ctx, arg).remote;
  const server = await connectIncus(ctx, remote).getServer();
  ctx.out(`${server.environment?.project ?? ''}\n`);
  return 0;
}

const FORMAT_HELP = 'Format (csv|json|table|yaml|compact), use suffix ",noheader" to disable headers and ",header" to enable it if missing, e.g. csv,header';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);
  const project = program.command('project').description('Manage projects');

  project
    .command('create')
    .alias('add')
    .description('Create projects')
    .argument('<project>', '[<remote>:]<project>')
    .option('-c, --config <key=value>', 'Config key/value to apply to the new project (may be passed multiple times)', collect, [])
    .option('--description <text>', 'Project description')
    .action(async (arg: string, flags: { config: string[]; description?: string }) => {
      ctx.exitCode = await createProject(ctx, arg, flags, term);
    });

  project
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete projects')
    .argument('<project...>', '[<remote>:]<project>')
    .option('-f, --force', 'Force delete the project and everything it contains.')
    .action(async (args: string[], flags: { force?: boolean }) => {
      ctx.exitCode = await deleteProjects(ctx, args, flags);
    });

  project
    .command('edit')
    .description('Edit project configurations as YAML')
    .argument('<project>', '[<remote>:]<project>')
    .action(async (arg: string) => {
      ctx.exitCode = await editProject(ctx, arg, term);
    });

  project
    .command('get')
    .description('Get values for project configuration keys')
    .argument('<project>', '[<remote>:]<project>')
    .argument('<key>', 'Configuration key')
    .option('-p, --property', 'Get the key as a project property')
    .action(async (arg: string, key: string, flags: PropertyFlags) => {
      ctx.exitCode = await getProjectKey(ctx, arg, key, flags);
    });

  project
    .command('get-current')
    .description('Show the current project')
    .argument('[remote]', '[<remote>:]')
    .action(async (arg: string | undefined) => {
      ctx.exitCode = await currentProject(ctx, arg);
    });

  project
    .command('info')
    .description('Get a summary of resource allocations')
    .argument('<project>', '[<remote>:]<project>')
    .option('-f, --format <format>', FORMAT_HELP, 'table')
    .action(async (arg: string, flags: { format: string }) => {
      const t = target(ctx, arg);
      ctx.out(projectInfoText(await api().getProjectState(t.client, t.name), flags.format));
    });

  project
    .command('list')
    .alias('ls')
    .description('List projects')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_PROJECT_COLUMNS)
    .option('-f, --format <format>', FORMAT_HELP, 'table')
    .action(async (filters: string[], flags: ProjectListFlags) => {
      ctx.exitCode = await listProjects(ctx, filters, flags);
    });

  project
    .command('rename')
    .alias('mv')
    .description('Rename projects')
    .argument('<project>', '[<remote>:]<project>')
    .argument('<new-name>', 'New project name')
    .action(async (arg: string, to: string) => {
      ctx.exitCode = await renameProject(ctx, arg, to);
    });

  project
    .command('set')
    .description('Set project configuration keys')
    .argument('<project>', '[<remote>:]<project>')
    .argument('[key=value...]', 'Keys to set')
    .option('-p, --property', 'Set the key as a project property')
    .action(async (arg: string, args: string[], flags: PropertyFlags) => {
      ctx.exitCode = await setProjectKeys(ctx, arg, args, flags, term);
    });

  project
    .command('show')
    .description('Show project options')
    .argument('<project>', '[<remote>:]<project>')
    .action(async (arg: string) => {
      const t = target(ctx, arg);
      ctx.out(projectText(await api().getProject(t.client, t.name)));
    });

  project
    .command('switch')
    .description('Switch the current project')
    .argument('<project>', '[<remote>:]<project>')
    .action(async (arg: string) => {
      ctx.exitCode = await switchProject(ctx, arg);
    });

  project
    .command('unset')
    .description('Unset project configuration keys')
    .argument('<project>', '[<remote>:]<project>')
    .argument('<key...>', 'Keys to unset')
    .option('-p, --property', 'Unset the keys as project properties')
    .action(async (arg: string, keys: string[], flags: PropertyFlags) => {
      ctx.exitCode = await unsetProjectKeys(ctx, arg, keys, flags);
    });
}
