/**
 * Image arguments on any remote (`[remote:]image`): listing and resolving
 * images on an Incus server or, read directly, a simplestreams server.
 */
import type { Image } from '../api/image';
import type { CliContext } from './context';
import { resolveImage } from './image-ref';
import { type RemoteServer, connect, splitRemote } from './remotes/connect';

/** An image found on a remote, and the alias that named it (if one did). */
export interface RemoteImage {
  server: RemoteServer;
  image: Image;
  alias?: string;
}

/** `[remote:]name` to the remote (connected) and the name. */
export function remoteArg(ctx: CliContext, raw: string): { server: RemoteServer; name: string } {
  const { remote, name } = splitRemote(ctx, raw);
  return { server: connect(ctx, remote), name };
}

/** Every image the remote lists. */
export async function listImagesOn(server: RemoteServer): Promise<Image[]> {
  return server.kind === 'simplestreams' ? server.client.listImages() : server.client.getImages(1);
}

/** Resolves an alias or (prefix of a) fingerprint on a remote, alias first as Incus does. */
export async function resolveImageOn(server: RemoteServer, name: string, type = ''): Promise<RemoteImage> {
  if (server.kind === 'incus') {
    const r = await resolveImage(server.client, name);
    return { server, ...r };
  }
  try {
    const a = await server.client.getAlias(name, type);
    return { server, image: await server.client.getImage(a.target), alias: name };
  } catch (err) {
    if (!/doesn't exist/.test((err as Error).message)) throw err;
  }
  return { server, image: await server.client.getImage(name) };
}

/** The Incus-server client of a remote, for commands that change images. */
export function incusOf(server: RemoteServer): NonNullable<Extract<RemoteServer, { kind: 'incus' }>['client']> {
  if (server.kind !== 'incus') throw new Error("The remote isn't a private server");
  return server.client;
}
