/** Where the local daemon's Unix socket lives. */
import * as path from 'node:path';

/** The socket Incus uses when neither INCUS_SOCKET nor INCUS_DIR is set. */
export const DEFAULT_SOCKET_PATH = '/var/lib/incus/unix.socket';

/**
 * Socket path from the environment: `INCUS_SOCKET`, else
 * `$INCUS_DIR/unix.socket`, else {@link DEFAULT_SOCKET_PATH}. Empty values
 * count as unset, as in Incus.
 */
export function discoverSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const socket = env.INCUS_SOCKET;
  if (socket) return socket;
  const dir = env.INCUS_DIR;
  if (dir) return path.join(dir, 'unix.socket');
  return DEFAULT_SOCKET_PATH;
}
