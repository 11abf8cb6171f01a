/**
 * `[remote:]instance` arguments of commands that may name instances on
 * several remotes in one call (`incus start l1:c1 l2:c2`, as Incus allows):
 * each resolves to the client of its own remote.
 */
import type { IncusClient } from '../client/client';
import type { CliContext } from './context';
import { LOCAL_REMOTE, localName } from './remote';
import { connectIncus, splitRemote } from './remotes/connect';

/** One instance argument, resolved. */
export interface InstanceTarget {
  remote: string;
  name: string;
  client: IncusClient;
  /** The project the remote's calls use, for messages. */
  project: string;
}

const clients = new WeakMap<CliContext, Map<string, IncusClient>>();

/** The client of `remote`, one per remote and run. */
function clientOf(ctx: CliContext, remote: string): IncusClient {
  let byRemote = clients.get(ctx);
  if (!byRemote) clients.set(ctx, (byRemote = new Map()));
  let c = byRemote.get(remote);
  if (!c) byRemote.set(remote, (c = connectIncus(ctx, remote)));
  return c;
}

/** Resolves `[remote:]name` against the client configuration. */
export function instanceTarget(ctx: CliContext, arg: string): InstanceTarget {
  if (ctx.globals.forceLocal) return { remote: LOCAL_REMOTE, name: localName(arg), client: ctx.client(), project: ctx.projectName };
  const { remote, name } = splitRemote(ctx, arg);
  return { remote, name, client: clientOf(ctx, remote), project: ctx.remoteProject(remote) ?? 'default' };
}
