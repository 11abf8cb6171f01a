/**
 * Imports a built tarball into the running daemon. The one place that knows
 * lib/client's names, so a change there is fixed here only.
 */

/** Options for {@link importImage}. */
export interface ImportImageOptions {
  /** Aliases to point at the image (an existing alias of that name moves). */
  aliases?: string[];
  public?: boolean;
  /** A split image's rootfs file (a qcow2 disk makes it a VM image); `file` is then its metadata tarball. */
  rootfs?: string;
  /** Daemon socket; default from INCUS_SOCKET, INCUS_DIR or /var/lib/incus. */
  socketPath?: string;
}

/**
 * Uploads `file` to the daemon and resolves with the image fingerprint once
 * the daemon's operation is done and the aliases exist. lib/client is loaded
 * only here, so building an image never needs it.
 */
export async function importImage(file: string, opts: ImportImageOptions = {}): Promise<string> {
  const { IncusClient } = await import('../client');
  const client = new IncusClient({ socketPath: opts.socketPath });
  try {
    if (opts.rootfs !== undefined) {
      const { createImageFromFiles } = await import('../client/image-split-upload');
      return (await createImageFromFiles(client, file, opts.rootfs, { aliases: opts.aliases, public: opts.public })).fingerprint;
    }
    const res = await client.createImageFromFile(file, { aliases: opts.aliases, public: opts.public });
    return res.fingerprint;
  } finally {
    client.close();
  }
}
