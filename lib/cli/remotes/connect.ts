/**
 * Reaching a remote named in the client configuration: an Incus server
 * (Unix socket, or HTTPS with the client keypair and the pinned server
 * certificate) through our API client, or a simplestreams server read
 * directly by the CLI, as Incus does.
 */
import type { IncusClient } from '../../client/client';
import type { SimpleStreamsClient } from '../../simplestreams/client';
import type { CliContext } from '../context';
import { type CliConfig, type Remote, configDir, loadConfig, parseRemote } from './config';

/** A remote ready to use. */
export type RemoteServer =
  | { kind: 'incus'; name: string; remote: Remote; client: IncusClient }
  | { kind: 'simplestreams'; name: string; remote: Remote; client: SimpleStreamsClient };

const configs = new WeakMap<CliContext, CliConfig>();

/** The run's client configuration, read once. */
export function cliConfig(ctx: CliContext): CliConfig {
  let c = configs.get(ctx);
  if (!c) {
    c = loadConfig(ctx.io.env);
    configs.set(ctx, c);
  }
  return c;
}

/** `remote:name` split against the configuration. */
export function splitRemote(ctx: CliContext, raw: string): { remote: string; name: string } {
  return parseRemote(cliConfig(ctx), raw);
}

/** The socket of a `unix://...` address (`unix://` alone: the local daemon's). */
function socketOf(ctx: CliContext, addr: string): string {
  const p = addr.replace(/^unix:(\/\/)?/, '');
  if (p) return p;
  const { discoverSocketPath } = require('../../client/socket-path') as typeof import('../../client/socket-path');
  return discoverSocketPath(ctx.io.env);
}

/**
 * The address a daemon should use to fetch from this remote (`source.server`):
 * the simplestreams URL, or `unix:///path` for another daemon on this host.
 */
export function serverAddress(ctx: CliContext, name: string): string {
  const r = cliConfig(ctx).remotes[name];
  if (!r) throw new Error(`The remote "${name}" doesn't exist`);
  const addr = r.addrs[0] as string;
  return addr.startsWith('unix:') ? `unix://${socketOf(ctx, addr)}` : addr;
}

/**
 * A new API client for the Incus remote `name` (never the run's shared one):
 * its Unix socket, or HTTPS presenting the client certificate (none for a
 * public remote) and trusting only the stored `servercerts/<name>.crt` when
 * there is one.
 */
export function openIncusClient(ctx: CliContext, name: string): IncusClient {
  const remote = cliConfig(ctx).remotes[name];
  if (!remote) throw new Error(`The remote "${name}" doesn't exist`);
  if (remote.protocol !== 'incus') throw new Error("The remote isn't a private server");
  const addr = remote.addrs[0] as string;
  const { IncusClient: Client } = require('../../client/client') as typeof import('../../client/client');
  const project = ctx.remoteProject(name);
  if (addr.startsWith('unix:')) return new Client({ socketPath: socketOf(ctx, addr), project });
  const { HttpsTransport } = require('../../client/https-transport') as typeof import('../../client/https-transport');
  const { readClientKeypair, readServerCert } = require('./client-cert') as typeof import('./client-cert');
  const dir = configDir(ctx.io.env);
  const pair = remote.public ? null : readClientKeypair(dir, name);
  const transport = new HttpsTransport({ url: addr, fallbackUrls: remote.addrs.slice(1), clientCert: pair?.cert, clientKey: pair?.key, serverCert: readServerCert(dir, name) });
  return new Client({ transport, project });
}

/** The pinned certificate of an HTTPS remote, for another server to trust it when dialing it ("" for none). */
export function remoteCertificate(ctx: CliContext, remote: string): string {
  if (serverAddress(ctx, remote).startsWith('unix:')) return '';
  const { readServerCert } = require('./client-cert') as typeof import('./client-cert');
  return readServerCert(configDir(ctx.io.env), remote) ?? '';
}

/** Connects to a remote by name (the run's shared client for its target remote). */
export function connect(ctx: CliContext, name: string): RemoteServer {
  const remote = cliConfig(ctx).remotes[name];
  if (!remote) throw new Error(`The remote "${name}" doesn't exist`);
  const addr = remote.addrs[0] as string;
  if (remote.protocol === 'simplestreams') {
    const { SimpleStreamsClient: Client } = require('../../simplestreams/client') as typeof import('../../simplestreams/client');
    return { kind: 'simplestreams', name, remote, client: new Client(addr, { userAgent: 'incus-ts' }) };
  }
  if (remote.protocol !== 'incus') throw new Error(`Unsupported remote protocol: ${remote.protocol}`);
  if (name === ctx.targetRemote()) return { kind: 'incus', name, remote, client: ctx.client() };
  return { kind: 'incus', name, remote, client: openIncusClient(ctx, name) };
}

/** Same as connect, for commands that need a full Incus server. */
export function connectIncus(ctx: CliContext, name: string): IncusClient {
  const r = connect(ctx, name);
  if (r.kind !== 'incus') throw new Error("The remote isn't a private server");
  return r.client;
}
