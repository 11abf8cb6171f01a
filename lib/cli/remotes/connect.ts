/**
 * Reaching a remote named in the client configuration: an Incus server
 * (Unix socket; HTTPS comes with the HTTPS issue) through our API client, or
 * a simplestreams server read directly by the CLI, as Incus does.
 */
import type { IncusClient } from '../../client/client';
import type { SimpleStreamsClient } from '../../simplestreams/client';
import type { CliContext } from '../context';
import { type CliConfig, type Remote, loadConfig, parseRemote } from './config';

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

/** Connects to a remote by name. */
export function connect(ctx: CliContext, name: string): RemoteServer {
  const remote = cliConfig(ctx).remotes[name];
  if (!remote) throw new Error(`The remote "${name}" doesn't exist`);
  const addr = remote.addrs[0] as string;
  if (remote.protocol === 'simplestreams') {
    const { SimpleStreamsClient: Client } = require('../../simplestreams/client') as typeof import('../../simplestreams/client');
    return { kind: 'simplestreams', name, remote, client: new Client(addr, { userAgent: 'incus-ts' }) };
  }
  if (remote.protocol !== 'incus') throw new Error(`Unsupported remote protocol: ${remote.protocol}`);
  if (name === 'local' || addr === 'unix://') return { kind: 'incus', name, remote, client: ctx.client() };
  if (!addr.startsWith('unix:')) throw new Error(`HTTPS remotes are not supported yet (remote "${name}" at ${addr})`);
  const { IncusClient: Client } = require('../../client/client') as typeof import('../../client/client');
  return { kind: 'incus', name, remote, client: new Client({ socketPath: socketOf(ctx, addr), project: ctx.remoteProject(name) }) };
}

/** Same as connect, for commands that need a full Incus server. */
export function connectIncus(ctx: CliContext, name: string): IncusClient {
  const r = connect(ctx, name);
  if (r.kind !== 'incus') throw new Error("The remote isn't a private server");
  return r.client;
}
