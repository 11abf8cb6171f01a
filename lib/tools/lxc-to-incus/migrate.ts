/**
 * One container through lxc-to-incus: checks (stopped, not already in the
 * daemon, every key understood) with every problem printed before anything
 * changes; then the import, and the optional clean-up of the LXC side.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IncusClient } from '../../client/client';
import { isNotFound } from '../../client/errors';
import { first, parseConfigFile } from './config';
import { translate } from './translate';

/** Run-wide options. */
export interface MigrateOptions {
  lxcpath: string;
  dryRun: boolean;
  debug: boolean;
  /** Destroy the LXC container (lxc-destroy) after a successful import. */
  delete: boolean;
  /** Remove the LXC rootfs after a successful import (the config stays). */
  moveRootfs: boolean;
  storage?: string;
}

const say = (s: string) => process.stdout.write(`${s}\n`);

/** Containers defined under `lxcpath` (a directory holding a `config`). */
export function lxcContainers(lxcpath: string): string[] {
  if (!existsSync(lxcpath)) return [];
  return readdirSync(lxcpath, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(lxcpath, d.name, 'config')))
    .map((d) => d.name)
    .sort();
}

function lxcState(lxcpath: string, name: string): string {
  try {
    return execFileSync('lxc-info', ['-P', lxcpath, '-n', name, '-s', '-H'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'UNKNOWN';
  }
}

/** Host architecture as Incus names it, for containers without lxc.arch. */
function hostArch(): string {
  const { hostArchitecture } = require('../../simplestreams/arch') as typeof import('../../simplestreams/arch');
  return hostArchitecture();
}

/** Imports one container; resolves true when imported (or, dry-run, importable). */
export async function migrateContainer(c: IncusClient, name: string, o: MigrateOptions): Promise<boolean> {
  say(`Parsing LXC configuration of '${name}'`);
  const entries = parseConfigFile(join(o.lxcpath, name, 'config'));
  if (o.debug) say(`Container configuration:\n  ${entries.map((e) => `${e.key} = ${e.value}`).join('\n  ')}`);
  const t = translate(name, entries, existsSync);
  const problems = [...t.problems];
  if (lxcState(o.lxcpath, name) !== 'STOPPED') problems.unshift('Only stopped containers can be migrated');
  try {
    await c.getInstance(name);
    problems.push('Container already exists');
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const k of t.ignored) say(`Not translated (ignored): ${k}`);
  if (problems.length) {
    say(`Skipping container '${name}':`);
    for (const p of problems) say(`  ${p}`);
    return false;
  }
  const devices = { ...t.devices };
  if (o.storage) devices.root = { type: 'disk', path: '/', pool: o.storage };
  const spec = { name, config: t.config, devices, profiles: ['default'] };
  if (o.dryRun) {
    say(`Would create container '${name}' with:\n${stringify({ config: spec.config, devices: spec.devices, profiles: spec.profiles })}`);
    if (o.delete) say('Would destroy container now');
    else if (o.moveRootfs) say(`Would remove rootfs ${t.rootfs}`);
    return true;
  }
  const arch = first(entries, 'lxc.arch');
  const { canonicalArchitecture } = await import('../../simplestreams/arch');
  const info = { name, architecture: (arch && canonicalArchitecture(arch)) || hostArch() };
  say(`Transferring container: ${name}`);
  const { createFromRootfs } = await import('./transfer');
  const { unmapped } = await createFromRootfs(c, t.rootfs!, t.idmap, info, spec);
  if (unmapped.length) say(`Warning: host ids outside lxc.idmap kept as they are: ${unmapped.join(', ')}`);
  say(`Container '${name}' successfully created`);
  if (o.delete) {
    execFileSync('lxc-destroy', ['-P', o.lxcpath, '-n', name], { stdio: 'ignore' });
    say(`Destroyed LXC container '${name}'`);
  } else if (o.moveRootfs) {
    rmSync(t.rootfs!, { recursive: true, force: true });
    say(`Removed LXC rootfs ${t.rootfs}`);
  }
  return true;
}
