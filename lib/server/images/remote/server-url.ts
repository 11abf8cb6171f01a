/**
 * The `server` of a remote image source: https URLs as Incus takes them,
 * plain http only on loopback (test and offline mirrors on the same host),
 * and `unix:///path` for another daemon on this host (an extension: Incus
 * reaches other servers over HTTPS only).
 */
import { badRequest } from '../../errors';

export type ServerUrl =
  | { kind: 'http'; url: string }
  | { kind: 'unix'; socketPath: string };

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

/** Protocols a remote source may use. */
export const REMOTE_PROTOCOLS = ['incus', 'lxd', 'simplestreams'] as const;

/** @throws StatusError 400 for a URL a remote source may not use. */
export function parseServerUrl(server: string): ServerUrl {
  if (server.startsWith('unix:')) {
    const path = server.replace(/^unix:(\/\/)?/, '');
    if (!path.startsWith('/')) throw badRequest(`Invalid server "${server}": a unix:// server needs an absolute socket path`);
    return { kind: 'unix', socketPath: path };
  }
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw badRequest(`Invalid server "${server}"`);
  }
  if (u.protocol === 'https:') return { kind: 'http', url: server };
  if (u.protocol === 'http:' && LOOPBACK.test(u.hostname)) return { kind: 'http', url: server };
  throw badRequest(`Invalid server "${server}": only https:// (or http:// on loopback) is supported`);
}
