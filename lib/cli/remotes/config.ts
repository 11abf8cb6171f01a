/**
 * The client configuration file Incus's CLI keeps (`$INCUS_CONF/config.yml`,
 * else `~/.config/incus/config.yml`): `default-remote`, `remotes` (addr,
 * protocol, public, ...), `aliases`. Without a file the defaults apply:
 * `local` (the Unix socket) and `images` (the public simplestreams server).
 * `local` is static: always present and unchangeable.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** One remote as the file stores it (`addr` may list several, comma-separated). */
export interface Remote {
  addrs: string[];
  protocol: string;
  public: boolean;
  authType?: string;
  project?: string;
  /** Built in and unchangeable (`local`). */
  static?: boolean;
  /** From the system-wide file (`/etc/incus/config.yml`): not removable. */
  global?: boolean;
  /** Keys we do not use, kept as found. */
  extra?: Record<string, unknown>;
}

export interface CliConfig {
  defaultRemote: string;
  remotes: Record<string, Remote>;
  aliases: Record<string, string>;
  /** Where the file is (or would be written). */
  path: string;
  /** Other top-level keys, kept as found. */
  extra: Record<string, unknown>;
}

export const LOCAL_REMOTE: Remote = { addrs: ['unix://'], protocol: 'incus', public: false, static: true };
export const IMAGES_REMOTE: Remote = { addrs: ['https://images.linuxcontainers.org'], protocol: 'simplestreams', public: true };

type Yaml = typeof import('yaml');
const yaml = (): Yaml => require('yaml') as Yaml;

/** The directory of config.yml: $INCUS_CONF, else ~/.config/incus. */
export function configDir(env: NodeJS.ProcessEnv): string {
  if (env.INCUS_CONF) return env.INCUS_CONF;
  const home = env.HOME || os.homedir();
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'incus');
}

function toRemote(raw: Record<string, unknown>, name: string): Remote {
  const { addr, protocol, public: pub, auth_type: authType, project, ...extra } = raw;
  const addrs = String(addr ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (addrs.length === 0) throw new Error(`Unable to decode the configuration: remote "${name}": Remotes must have at least one address`);
  return {
    addrs,
    protocol: typeof protocol === 'string' && protocol !== '' ? protocol : 'incus',
    public: pub === true,
    authType: typeof authType === 'string' ? authType : undefined,
    project: typeof project === 'string' ? project : undefined,
    extra,
  };
}

function readRemotes(file: string): { doc: Record<string, unknown>; remotes: Record<string, Remote> } | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`Unable to read the configuration file: ${(err as Error).message}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = (yaml().parse(text) as Record<string, unknown> | null) ?? {};
  } catch (err) {
    throw new Error(`Unable to decode the configuration: ${(err as Error).message}`);
  }
  const remotes: Record<string, Remote> = {};
  for (const [name, r] of Object.entries((doc.remotes as Record<string, Record<string, unknown>> | undefined) ?? {})) {
    remotes[name] = toRemote(r ?? {}, name);
  }
  return { doc, remotes };
}

/** Loads the configuration as Incus does (defaults when there is no file; INCUS_REMOTE overrides the default remote). */
export function loadConfig(env: NodeJS.ProcessEnv): CliConfig {
  const file = path.join(configDir(env), 'config.yml');
  const read = readRemotes(file);
  let conf: CliConfig;
  if (!read) {
    conf = { defaultRemote: 'local', remotes: { images: { ...IMAGES_REMOTE }, local: { ...LOCAL_REMOTE } }, aliases: {}, path: file, extra: {} };
  } else {
    const { 'default-remote': def, remotes: _r, aliases, ...extra } = read.doc;
    conf = {
      defaultRemote: typeof def === 'string' && def !== '' ? def : 'local',
      remotes: read.remotes,
      aliases: (aliases as Record<string, string> | undefined) ?? {},
      path: file,
      extra,
    };
  }
  const global = readRemotes(path.join(env.INCUS_GLOBAL_CONF || '/etc/incus', 'config.yml'));
  for (const [name, r] of Object.entries(global?.remotes ?? {})) conf.remotes[name] ??= { ...r, global: true };
  conf.remotes.local = { ...LOCAL_REMOTE, project: conf.remotes.local?.project };
  if (env.INCUS_REMOTE) conf.defaultRemote = env.INCUS_REMOTE;
  return conf;
}

/** Writes the configuration (without the system-wide remotes). */
export function saveConfig(conf: CliConfig, env: NodeJS.ProcessEnv): void {
  const remotes: Record<string, Record<string, unknown>> = {};
  for (const [name, r] of Object.entries(conf.remotes).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (r.global) continue;
    remotes[name] = {
      addr: r.addrs.join(','),
      ...(r.authType ? { auth_type: r.authType } : {}),
      ...(r.project ? { project: r.project } : {}),
      protocol: r.protocol,
      public: r.public,
      ...(r.extra ?? {}),
    };
  }
  // An INCUS_REMOTE override is not made permanent.
  const onDisk = env.INCUS_REMOTE && conf.defaultRemote === env.INCUS_REMOTE ? readRemotes(conf.path)?.doc['default-remote'] : undefined;
  const doc = {
    ...conf.extra,
    'default-remote': typeof onDisk === 'string' ? onDisk : conf.defaultRemote,
    remotes,
    aliases: conf.aliases,
  };
  fs.mkdirSync(path.dirname(conf.path), { recursive: true, mode: 0o750 });
  const tmp = `${conf.path}.tmp${process.pid}`;
  fs.writeFileSync(tmp, yaml().stringify(doc), { mode: 0o600 });
  fs.renameSync(tmp, conf.path);
}

/**
 * Splits `remote:name` (Incus's ParseRemote): no colon, or a `=` before it,
 * means the default remote; an unknown prefix is an error unless the
 * argument looks like a snapshot path.
 */
export function parseRemote(conf: CliConfig, raw: string): { remote: string; name: string } {
  const colon = raw.indexOf(':');
  if (colon < 0 || raw.slice(0, colon).includes('=')) return { remote: conf.defaultRemote, name: raw };
  const remote = raw.slice(0, colon);
  if (!conf.remotes[remote]) {
    if (raw.includes('/') && remote.includes('/')) return { remote: conf.defaultRemote, name: raw };
    throw new Error(`The remote "${remote}" doesn't exist`);
  }
  return { remote, name: raw.slice(colon + 1) };
}
