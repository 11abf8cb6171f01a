/**
 * The image a benchmark creates from, as a local fingerprint: a local alias
 * or fingerprint; or `remote:name` from the CLI's remotes, resolved on the
 * remote and copied into the local store first (once, before timing starts).
 */
import type { IncusClient } from '../../client/client';
import { isNotFound } from '../../client/errors';
import { logf } from './log';

async function localFingerprint(c: IncusClient, name: string): Promise<string> {
  try {
    return (await c.getImageAlias(name)).target;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return (await c.getImage(name)).fingerprint;
}

/** Resolves `remote:name` on the remote: its fingerprint and how the daemon should pull it. */
async function remoteImage(remote: { addrs: string[]; protocol: string }, name: string): Promise<{ fingerprint: string; server: string }> {
  const addr = remote.addrs[0] ?? '';
  if (remote.protocol === 'simplestreams') {
    const { SimpleStreamsClient } = await import('../../simplestreams/client');
    return { fingerprint: (await new SimpleStreamsClient(addr, { userAgent: 'incus-benchmark' }).resolve(name || 'default')).fingerprint, server: addr };
  }
  if (!addr.startsWith('unix:')) throw new Error(`Only simplestreams and local Unix socket remotes are supported (${addr})`);
  const { IncusClient: Client } = await import('../../client/client');
  const { discoverSocketPath } = await import('../../client/socket-path');
  const socket = addr.replace(/^unix:(\/\/)?/, '') || discoverSocketPath();
  return { fingerprint: await localFingerprint(new Client({ socketPath: socket }), name || 'default'), server: `unix://${socket}` };
}

/** The local fingerprint of `image`, importing it from its remote when needed. */
export async function ensureImage(c: IncusClient, image: string): Promise<string> {
  let fingerprint: string;
  const colon = image.indexOf(':');
  if (colon < 0) {
    try {
      fingerprint = await localFingerprint(c, image);
    } catch (err) {
      logf(`Image not found in local store: ${image}`);
      throw err;
    }
  } else {
    const { loadConfig, parseRemote } = await import('../../cli/remotes/config');
    const conf = loadConfig(process.env);
    const { remote, name } = parseRemote(conf, image);
    if (remote === 'local') return ensureImage(c, name);
    const r = await remoteImage(conf.remotes[remote]!, name);
    fingerprint = r.fingerprint;
    try {
      await c.getImage(fingerprint);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      logf(`Importing image into local store: ${fingerprint}`);
      const { createImage } = await import('../../client/images');
      const protocol = conf.remotes[remote]!.protocol;
      await (await createImage(c, { source: { type: 'image', mode: 'pull', server: r.server, protocol, fingerprint } })).wait();
    }
  }
  logf(`Found image in local store: ${fingerprint}`);
  return fingerprint;
}
