/**
 * `incus profile ...`: profiles themselves (list, show, create, copy, edit,
 * delete, rename, get, set, unset) and their use by instances (add, remove,
 * assign); `profile device` comes from config-device.ts and the listing
 * from profile-list.ts.
 */
import type { Command } from 'commander';
import type { InstancePut } from '../../api/instance';
import type { ProfilePut } from '../../api/profile';
import { isNotFound } from '../../client/errors';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, notEnoughArguments, pairsToMap, parseKeyValuesLeft, parseProfileList, tooManyArguments } from '../config-args';
import { profileEditText, profileText, putForWire } from '../config-text';
import { runEdit } from '../edit-loop';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { localName } from '../remote';
import { processTerminal, type Terminal } from '../terminal';
import { instanceWritable, profileWritable, sameValue } from '../writable';
import { decodeYaml, PROFILE_PUT } from '../yaml-decode';
import { registerDevices } from './config-device';
import { listProfiles, type ProfileListFlags } from './profile-list';

type ProfilesApi = typeof import('../../client/profiles');
const profilesApi = (): ProfilesApi => require('../../client/profiles') as ProfilesApi;

/** Flags of `profile get|set|unset`. */
interface PropertyFlags {
  property?: boolean;
}

/** Changes an instance's profile list (read with ETag, full PUT). */
async function changeInstanceProfiles(ctx: CliContext, name: string, change: (profiles: string[]) => string[]): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await client.getInstanceWithEtag(name);
  const put: InstancePut = instanceWritable(value);
  put.profiles = change(put.profiles);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  await putInstance(client, name, putForWire(put), { etag });
}

/** Changes a profile's writable part (read with ETag, full PUT). */
async function changeProfile(ctx: CliContext, name: string, change: (put: ProfilePut) => void): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await client.getProfileWithEtag(name);
  const put = profileWritable(value);
  change(put);
  await client.updateProfile(name, put, { etag });
}

async function createProfile(ctx: CliContext, arg: string, flags: { description?: string }, term: Terminal): Promise<number> {
  const name = localName(arg);
  const put: ProfilePut = term.stdinIsTerminal()
    ? { config: {}, description: '', devices: {} }
    : decodeYaml<ProfilePut>(term.readStdin(), PROFILE_PUT);
  if (flags.description) put.description = flags.description;
  await profilesApi().createProfile(ctx.client(), { ...put, name });
  ctx.say(`Profile ${name} created\n`);
  return 0;
}

async function copyProfile(ctx: CliContext, src: string, dst: string, flags: { targetProject?: string; refresh?: boolean }): Promise<number> {
  const source = ctx.client();
  const put = profileWritable(await source.getProfile(localName(src)));
  const name = localName(dst);
  const target = flags.targetProject ? source.useProject(flags.targetProject) : source;
  if (flags.refresh) {
    try {
      await target.updateProfile(name, put);
      return 0;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  await profilesApi().createProfile(target, { ...put, name });
  return 0;
}

async function deleteProfiles(ctx: CliContext, args: string[]): Promise<number> {
  const errors: string[] = [];
  for (const arg of args) {
    try {
      const name = localName(arg);
      await profilesApi().deleteProfile(ctx.client(), name);
      ctx.say(`Profile ${name} deleted\n`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return 0;
}

async function editProfile(ctx: CliContext, arg: string, term: Terminal): Promise<number> {
  const name = localName(arg);
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const session = async () => {
    const { value, etag } = await client.getProfileWithEtag(name);
    const current = profileWritable(value);
    return {
      text: profileEditText(value),
      decode: (text: string) => decodeYaml<ProfilePut>(text, PROFILE_PUT),
      unchanged: (put: ProfilePut) => (['config', 'description', 'devices'] as const).every((f) => sameValue(put[f], current[f])),
      save: (put: ProfilePut) => client.updateProfile(name, put, { etag }),
    };
  };
  await runEdit(io, term, session, (text) => client.updateProfile(name, decodeYaml<ProfilePut>(text, PROFILE_PUT)));
  return 0;
}

async function getProfileKey(ctx: CliContext, arg: string, key: string, flags: PropertyFlags): Promise<number> {
  const name = localName(arg);
  const profile = await ctx.client().getProfile(name);
  if (!flags.property) {
    ctx.out(`${profile.config?.[key] ?? ''}\n`);
    return 0;
  }
  try {
    ctx.out(`${getProperty(profileWritable(profile), PROFILE_PUT, key)}\n`);
  } catch (err) {
    throw new Error(`The property ${JSON.stringify(key)} does not exist on the profile ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  return 0;
}

async function setProfileKeys(ctx: CliContext, arg: string, args: string[], flags: PropertyFlags, term: Terminal): Promise<number> {
  const kv = parseKeyValuesLeft(args, 1);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  const values = pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
  await changeProfile(ctx, localName(arg), (put) => {
    if (flags.property) setProperties(put, PROFILE_PUT, values);
    else Object.assign(put.config, values);
  });
  return 0;
}

async function unsetProfileKeys(ctx: CliContext, arg: string, keys: string[], flags: PropertyFlags): Promise<number> {
  await changeProfile(ctx, localName(arg), (put) => {
    if (flags.property) unsetProperties(put, PROFILE_PUT, keys);
    else for (const k of keys) delete put.config[k];
  });
  return 0;
}

async function assignProfiles(ctx: CliContext, arg: string, args: string[], flags: { profiles?: boolean }): Promise<number> {
  const name = localName(arg);
  if (flags.profiles === false && args.length > 0) throw new Error('--no-profiles cannot be used together with other arguments');
  if (flags.profiles !== false && args.length === 0) throw notEnoughArguments('<profile>');
  const profiles = flags.profiles === false ? [] : parseProfileList(args);
  await changeInstanceProfiles(ctx, name, () => profiles);
  ctx.say(profiles.length > 0 ? `Profiles ${args.join(' ')} applied to ${name}\n` : `All profiles removed from ${name}\n`);
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  registerProfile(program, ctx, false);
}

/**
 * Adds `profile` and its subcommands under `parent`; `hidden` for Incus's
 * deprecated `incus config profile ...` spelling, which still works.
 */
export function registerProfile(parent: Command, ctx: CliContext, hidden: boolean): void {
  const term = processTerminal(ctx.io.env);
  const profile = parent.command('profile', { hidden }).description('Manage profiles');

  profile
    .command('add')
    .description('Add profiles to instances')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<profile>', 'Profile name')
    .action(async (arg: string, p: string) => {
      const name = localName(arg);
      await changeInstanceProfiles(ctx, name, (list) => [...list, p]);
      ctx.say(`Profile ${p} added to ${name}\n`);
    });

  profile
    .command('assign')
    .alias('apply')
    .description('Assign sets of profiles to instances')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('[profiles...]', 'Profile names (space or comma separated; "" for none)')
    .option('--no-profiles', 'Remove all profiles from the instance')
    .action(async (arg: string, args: string[], flags: { profiles?: boolean }) => {
      ctx.exitCode = await assignProfiles(ctx, arg, args, flags);
    });

  profile
    .command('copy')
    .alias('cp')
    .description('Copy profiles')
    .argument('<profile>', '[<remote>:]<profile>')
    .argument('<new-name>', '[<remote>:]<new profile name>')
    .option('--target-project <project>', 'Copy to a project different from the source')
    .option('--refresh', 'Update the target profile from the source if it already exists')
    .action(async (src: string, dst: string, flags: { targetProject?: string; refresh?: boolean }) => {
      ctx.exitCode = await copyProfile(ctx, src, dst, flags);
    });

  profile
    .command('create')
    .description('Create profiles')
    .argument('<profile>', '[<remote>:]<new profile name>')
    .option('--description <text>', 'Profile description')
    .action(async (arg: string, flags: { description?: string }) => {
      ctx.exitCode = await createProfile(ctx, arg, flags, term);
    });

  profile
    .command('delete')
    .alias('rm')
    .description('Delete profiles')
    .argument('<profile...>', '[<remote>:]<profile>')
    .action(async (args: string[]) => {
      ctx.exitCode = await deleteProfiles(ctx, args);
    });

  registerDevices(profile, ctx, 'profile');

  profile
    .command('edit')
    .description('Edit profile configurations as YAML')
    .argument('<profile>', '[<remote>:]<profile>')
    .action(async (arg: string) => {
      ctx.exitCode = await editProfile(ctx, arg, term);
    });

  profile
    .command('get')
    .description('Get values for profile configuration keys')
    .argument('<profile>', '[<remote>:]<profile>')
    .argument('<key>', 'Configuration key')
    .option('-p, --property', 'Get the key as a profile property')
    .action(async (arg: string, key: string, flags: PropertyFlags) => {
      ctx.exitCode = await getProfileKey(ctx, arg, key, flags);
    });

  profile
    .command('list')
    .alias('ls')
    .description('List profiles')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', 'ndu')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .option('--all-projects', 'Display profiles from all projects')
    .action(async (filters: string[], flags: ProfileListFlags) => {
      ctx.exitCode = await listProfiles(ctx, filters, flags);
    });

  profile
    .command('remove')
    .description('Remove profiles from instances')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<profile>', 'Profile name')
    .action(async (arg: string, p: string) => {
      const name = localName(arg);
      await changeInstanceProfiles(ctx, name, (list) => {
        if (!list.includes(p)) throw new Error(`Profile ${p} isn't currently applied to ${name}`);
        return list.filter((x) => x !== p);
      });
      ctx.say(`Profile ${p} removed from ${name}\n`);
    });

  profile
    .command('rename')
    .alias('mv')
    .description('Rename profiles')
    .argument('<profile>', '[<remote>:]<profile>')
    .argument('<new-name>', 'New profile name')
    .action(async (arg: string, to: string) => {
      const name = localName(arg);
      await profilesApi().renameProfile(ctx.client(), name, to);
      ctx.say(`Profile ${name} renamed to ${to}\n`);
    });

  profile
    .command('set')
    .description('Set profile configuration keys')
    .argument('<profile>', '[<remote>:]<profile>')
    .argument('[key=value...]', 'Keys to set')
    .option('-p, --property', 'Set the key as a profile property')
    .action(async (arg: string, args: string[], flags: PropertyFlags) => {
      ctx.exitCode = await setProfileKeys(ctx, arg, args, flags, term);
    });

  profile
    .command('show')
    .description('Show profile configurations')
    .argument('<profile>', '[<remote>:]<profile>')
    .action(async (arg: string) => {
      ctx.out(profileText(await ctx.client().getProfile(localName(arg))));
    });

  profile
    .command('unset')
    .description('Unset profile configuration keys')
    .argument('<profile>', '[<remote>:]<profile>')
    .argument('<key...>', 'Keys to unset')
    .option('-p, --property', 'Unset the keys as profile properties')
    .action(async (arg: string, keys: string[], flags: PropertyFlags) => {
      ctx.exitCode = await unsetProfileKeys(ctx, arg, keys, flags);
    });
}
