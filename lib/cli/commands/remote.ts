/** `incus remote add|list|remove|rename|switch|get-default|set-url`: the client configuration's remotes. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { type CliConfig, type Remote, configDir, saveConfig } from '../remotes/config';

type CertFiles = typeof import('../remotes/client-cert');
const certs = (): CertFiles => require('../remotes/client-cert') as CertFiles;
import { cliConfig, connect } from '../remotes/connect';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

/**
 * An address as Incus normalises it: `/path` or `unix:...` for a socket,
 * else `https://host:8443` unless a port is given.
 */
export function normalizeAddress(addr: string): { addr: string; scheme: 'unix' | 'https' } {
  if (addr === '') throw new Error('Addresses cannot be empty');
  if (addr.startsWith('/') || addr.startsWith('unix:')) {
    return { addr: `unix://${addr.replace(/^unix:(\/\/)?/, '')}`, scheme: 'unix' };
  }
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(addr);
  if (m && m[1] !== 'https') throw new Error(`Invalid URL scheme "${m[1]}" in "${addr}"`);
  const rest = m ? addr.slice(m[0].length) : addr;
  const hostPort = rest.split('/')[0] as string;
  const hasPort = /^\[.*\]:\d+$/.test(hostPort) || /^[^:[\]]+:\d+$/.test(hostPort);
  let host = hostPort;
  if (!hasPort && host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return { addr: `https://${hasPort ? hostPort : `${host}:8443`}`, scheme: 'https' };
}

/** Image-server URLs: https, or http on loopback (an extension for offline mirrors on this host). */
export function checkImageServerUrl(addr: string): void {
  let u: URL;
  try {
    u = new URL(addr);
  } catch {
    throw new Error('Only https URLs are supported for oci and simplestreams');
  }
  if (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.test(u.hostname))) return;
  throw new Error('Only https URLs are supported for oci and simplestreams');
}

type AddFlags = import('../remotes/add-https').HttpsAddFlags;

/** The token when `arg` decodes as a certificate add token, else null. */
function tokenOf(arg: string): import('../../api/certificate').CertificateAddToken | null {
  const { decodeCertificateToken } = require('../../api/certificate') as typeof import('../../api/certificate');
  try {
    return decodeCertificateToken(arg);
  } catch {
    return null;
  }
}

async function addRemote(ctx: CliContext, args: string[], flags: AddFlags): Promise<void> {
  const conf = cliConfig(ctx);
  const [first, ...more] = args as [string, ...string[]];
  // One argument: it is the address, and the name is derived from it (its host name).
  const explicit = more.length > 0;
  const addrs = explicit ? more : [first];
  let name = first;
  if (!explicit) {
    try {
      name = new URL(first).hostname || first;
    } catch {
      // Not a URL: keep it as given.
    }
  }
  if (name.includes(':')) throw new Error(explicit ? 'Remote names may not contain colons' : 'Remote names may not contain colons; please provide an explicit one');
  if (conf.remotes[name]) throw new Error(`Remote ${name} already exists`);
  const token = addrs.length === 1 ? tokenOf(addrs[0] as string) : null;
  if (token) {
    const { addFromToken } = require('../remotes/add-https') as typeof import('../remotes/add-https');
    return addFromToken(ctx, name, addrs[0] as string, token, flags);
  }
  if (flags.protocol === 'simplestreams' || flags.protocol === 'oci') {
    if (flags.protocol === 'oci') throw new Error('The oci protocol is not supported');
    for (const a of addrs) checkImageServerUrl(a);
    conf.remotes[name] = { addrs, protocol: flags.protocol, public: true };
    saveConfig(conf, ctx.io.env);
    return;
  }
  if (flags.protocol !== 'incus') throw new Error(`Invalid protocol: ${flags.protocol}`);
  const normalized = addrs.map(normalizeAddress);
  const unix = normalized.every((n) => n.scheme === 'unix');
  if (!unix && normalized.some((n) => n.scheme === 'unix')) throw new Error('Cannot mix HTTPS and Unix URLs');
  if (!unix) {
    const { addFromUrl } = require('../remotes/add-https') as typeof import('../remotes/add-https');
    return addFromUrl(ctx, name, normalized.map((n) => n.addr), flags);
  }
  const remote: Remote = { addrs: normalized.map((n) => n.addr), protocol: 'incus', public: flags.public === true, authType: 'tls' };
  conf.remotes[name] = remote;
  // Incus connects before saving: a socket nobody answers is refused.
  const server = connect(ctx, name);
  try {
    if (server.kind === 'incus') {
      await server.client.getServer();
      if (flags.project) {
        await server.client.getImages(0, { project: flags.project });
        remote.project = flags.project;
      }
    }
  } catch (err) {
    delete conf.remotes[name];
    throw err;
  } finally {
    if (server.kind === 'incus' && server.client !== ctx.client()) server.client.close();
  }
  saveConfig(conf, ctx.io.env);
}

function mustExist(conf: CliConfig, name: string, modify: boolean): Remote {
  const r = conf.remotes[name];
  if (!r) throw new Error(`Remote ${name} doesn't exist`);
  if (modify && r.static) throw new Error(`Remote ${name} is static and cannot be modified`);
  return r;
}

type RemoteColumn = [name: string, data: (name: string, r: Remote, conf: CliConfig) => string];

const COLUMNS: Record<string, RemoteColumn> = {
  n: ['NAME', (n, _r, c) => (n === c.defaultRemote ? `${n} (current)` : n)],
  u: ['URL', (_n, r) => r.addrs.join('\n')],
  p: ['PROTOCOL', (_n, r) => r.protocol],
  a: [
    'AUTH TYPE',
    (_n, r) => r.authType || ((r.addrs[0] ?? '').startsWith('unix:') ? 'file access' : r.protocol !== 'incus' ? 'none' : 'tls'),
  ],
  P: ['PUBLIC', (_n, r) => (r.public ? 'YES' : 'NO')],
  s: ['STATIC', (_n, r) => (r.static ? 'YES' : 'NO')],
  g: ['GLOBAL', (_n, r) => (r.global ? 'YES' : 'NO')],
};

function listRemotes(ctx: CliContext, flags: { columns: string; format: string }): void {
  const conf = cliConfig(ctx);
  const spec = parseFormat(flags.format);
  const cols: RemoteColumn[] = [];
  for (const entry of flags.columns.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${flags.columns}'`);
    for (const ch of entry) {
      const c = COLUMNS[ch];
      if (!c) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      cols.push(c);
    }
  }
  const rows = sortRowsNaturally(Object.entries(conf.remotes).map(([n, r]) => cols.map(([, data]) => data(n, r, conf))));
  const raw: Record<string, unknown> = {};
  for (const [n, r] of Object.entries(conf.remotes)) {
    raw[n] = { Addr: r.addrs.join(','), AuthType: r.authType ?? '', Project: r.project ?? '', Protocol: r.protocol, Public: r.public, Global: !!r.global, Static: !!r.static };
  }
  ctx.out(renderList(spec, cols.map(([n]) => n), rows, raw));
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const remote = program.command('remote').description('Manage the list of remote servers');

  remote
    .command('add')
    .description('Add new remote servers')
    .argument('<name>', 'Remote name (or the address alone)')
    .argument('[addresses...]', 'IP, FQDN, URL or Unix socket path')
    .option('--protocol <protocol>', 'Server protocol (incus or simplestreams)', 'incus')
    .option('--public', 'Public image server')
    .option('--project <name>', 'Project to use for the remote')
    .option('--auth-type <type>', 'Server authentication type (tls)')
    .option('--accept-certificate', 'Accept certificate')
    .option('--token <token>', 'Remote trust token')
    .action(async (name: string, addrs: string[], flags: AddFlags) => {
      await addRemote(ctx, [name, ...addrs], flags);
    });

  remote
    .command('list')
    .alias('ls')
    .description('List the available remotes')
    .option('-c, --columns <columns>', 'Columns', 'nupaPsg')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action((flags: { columns: string; format: string }) => listRemotes(ctx, flags));

  remote
    .command('remove')
    .aliases(['rm', 'delete'])
    .description('Remove remotes')
    .argument('<remote>')
    .action((name: string) => {
      const conf = cliConfig(ctx);
      const r = mustExist(conf, name, true);
      if (r.global) throw new Error(`Remote ${name} is global and cannot be removed`);
      if (conf.defaultRemote === name) throw new Error("Can't remove the default remote");
      delete conf.remotes[name];
      saveConfig(conf, ctx.io.env);
      certs().removeServerCert(configDir(ctx.io.env), name);
    });

  remote
    .command('rename')
    .alias('mv')
    .description('Rename remotes')
    .argument('<remote>')
    .argument('<new-name>')
    .action((name: string, next: string) => {
      const conf = cliConfig(ctx);
      const r = mustExist(conf, name, true);
      if (conf.remotes[next]) throw new Error(`Remote ${next} already exists`);
      if (next.includes(':')) throw new Error('Remote names may not contain colons');
      delete conf.remotes[name];
      conf.remotes[next] = { ...r, global: false };
      if (conf.defaultRemote === name) conf.defaultRemote = next;
      saveConfig(conf, ctx.io.env);
      certs().renameServerCert(configDir(ctx.io.env), name, next);
    });

  remote
    .command('switch')
    .alias('set-default')
    .description('Switch the default remote')
    .argument('<remote>')
    .action((name: string) => {
      const conf = cliConfig(ctx);
      mustExist(conf, name, false);
      conf.defaultRemote = name;
      saveConfig({ ...conf }, { ...ctx.io.env, INCUS_REMOTE: '' });
    });

  remote
    .command('get-default')
    .description('Show the default remote')
    .action(() => ctx.out(`${cliConfig(ctx).defaultRemote}\n`));

  remote
    .command('set-url')
    .alias('set-urls')
    .description('Set the URL(s) for the remote')
    .argument('<remote>')
    .argument('<urls...>')
    .action((name: string, urls: string[]) => {
      const conf = cliConfig(ctx);
      const r = mustExist(conf, name, true);
      if (r.protocol === 'simplestreams') {
        for (const u of urls) checkImageServerUrl(u);
        r.addrs = urls;
      } else {
        r.addrs = urls.map((u) => normalizeAddress(u).addr);
      }
      r.global = false;
      saveConfig(conf, ctx.io.env);
    });

  registerClientCertificate(remote, ctx);
}

/** `remote generate-certificate | get-client-certificate | get-client-token`. */
function registerClientCertificate(remote: Command, ctx: CliContext): void {
  const dir = (): string => configDir(ctx.io.env);
  const notice = (s: string): void => {
    if (!ctx.globals.quiet) ctx.err(s);
  };

  remote
    .command('generate-certificate')
    .description('Generate the client certificate')
    .action(async () => {
      if (certs().hasClientCertificate(dir())) throw new Error('A client certificate is already present');
      notice('Generating a client certificate. This may take a minute...\n');
      await certs().generateClientCertificate(dir());
    });

  remote
    .command('get-client-certificate')
    .description('Print or retrieve the client certificate used by this Incus client')
    .argument('[file]', 'Target file')
    .option('-f, --format <format>', 'Format (pem|pfx)', 'pem')
    .action(async (file: string | undefined, flags: { format: string }) => {
      if (!['pem', 'pfx'].includes(flags.format)) throw new Error(`Invalid certificate format ${JSON.stringify(flags.format)}`);
      if (flags.format === 'pfx') throw new Error(file ? 'PFX export is not supported' : 'PFX export requires a filename');
      const pair = await certs().ensureClientKeypair(dir(), notice);
      if (file) require('node:fs').writeFileSync(file, pair.cert);
      else ctx.out(pair.cert);
    });

  remote
    .command('get-client-token')
    .description('Generate a client token derived from the client certificate')
    .argument('<expiry>', 'Validity, as a Go duration (e.g. 24h)')
    .action(async (expiry: string) => {
      const { parseGoDuration, clientJwt } = require('../remotes/client-token') as typeof import('../remotes/client-token');
      const ms = parseGoDuration(expiry);
      const pair = await certs().ensureClientKeypair(dir(), notice);
      ctx.out(`${clientJwt(pair, ms)}\n`);
    });
}
