/**
 * The image argument of `launch`/`create` on any remote: a local image
 * resolves to its fingerprint; an image on another remote becomes a
 * `source` the daemon pulls (and caches) itself, as Incus's CLI asks it to.
 */
import type { InstanceSource } from '../api/instance';
import type { CliContext } from './context';
import { incusOf, resolveImageOn } from './image-remote';
import { connect, remoteCertificate, serverAddress, splitRemote } from './remotes/connect';

/** `[remote:]image` split; `local` when the image is on the instance's own server (same remote, or same address). */
export function parseImageArg(ctx: CliContext, raw: string): { remote: string; name: string; local: boolean } {
  const { remote, name } = splitRemote(ctx, raw);
  const target = ctx.targetRemote();
  let local = remote === target;
  if (!local) {
    const r = connect(ctx, remote);
    local = r.kind === 'incus' && serverAddress(ctx, remote) === serverAddress(ctx, target);
  }
  return { remote, name, local };
}

/** The source for an image on another remote. */
export async function remoteImageSource(ctx: CliContext, remote: string, name: string, vm: boolean): Promise<InstanceSource> {
  const server = connect(ctx, remote);
  const base: InstanceSource = { type: 'image', mode: 'pull', server: serverAddress(ctx, remote), protocol: server.remote.protocol };
  if (server.kind === 'simplestreams') {
    // Image servers are public: the daemon resolves the name (alias first).
    return { ...base, alias: name };
  }
  const { image, alias } = await resolveImageOn(server, name, vm ? 'virtual-machine' : 'container');
  // The daemon trusts the remote's certificate as this client pinned it (Incus's ConnectionInfo.Certificate).
  const certificate = remoteCertificate(ctx, remote);
  const pinned: InstanceSource = certificate ? { ...base, certificate } : base;
  if (image.public) return { ...pinned, ...(alias ? { alias } : { fingerprint: image.fingerprint }) };
  const { getImageSecret } = require('../client/images') as typeof import('../client/images');
  return { ...pinned, fingerprint: image.fingerprint, secret: await getImageSecret(incusOf(server), image.fingerprint) };
}
