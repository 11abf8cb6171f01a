/**
 * An SFTP session on an instance (`GET /1.0/instances/{name}/sftp`,
 * upgraded), with promise-returning calls over ssh2's SFTP client. The
 * metadata side of `incus file` (stat, readlink, chown/chmod, mkdir, ...)
 * goes through here, as in Incus's own CLI.
 */
import { promisify } from 'node:util';
import { attachSftpClient, type SftpAttrs, type SftpClientStream, type SftpName, type SftpStats } from '../sftp/channel';
import type { InstanceFiles } from './files';

export type { SftpAttrs, SftpName, SftpStats } from '../sftp/channel';

/** An SFTP error carries the status code (2: no such file, 3: permission denied, 4: failure). */
export function sftpCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** True for SSH_FX_NO_SUCH_FILE. */
export function isNoSuchFile(err: unknown): boolean {
  return sftpCode(err) === 2;
}

/** Promise-style SFTP calls on one instance. */
export class SftpSession {
  private constructor(readonly raw: SftpClientStream) {}

  /** Opens the upgraded connection and waits for the SFTP handshake. */
  static async open(files: InstanceFiles, instance: string): Promise<SftpSession> {
    const socket = await files.sftpConnection(instance);
    const raw = attachSftpClient(socket);
    await new Promise<void>((resolve, reject) => {
      raw.once('ready', () => resolve());
      raw.once('error', reject);
      raw.once('close', () => reject(new Error(`SFTP connection to ${instance} closed during the handshake`)));
    });
    return new SftpSession(raw);
  }

  stat(path: string): Promise<SftpStats> {
    return promisify(this.raw.stat.bind(this.raw))(path);
  }

  lstat(path: string): Promise<SftpStats> {
    return promisify(this.raw.lstat.bind(this.raw))(path);
  }

  /** stat() or null when the path does not exist. */
  async statOrNull(path: string, follow = true): Promise<SftpStats | null> {
    try {
      return follow ? await this.stat(path) : await this.lstat(path);
    } catch (err) {
      if (isNoSuchFile(err)) return null;
      throw err;
    }
  }

  readdir(path: string): Promise<SftpName[]> {
    return promisify(this.raw.readdir.bind(this.raw))(path);
  }

  readlink(path: string): Promise<string> {
    return promisify(this.raw.readlink.bind(this.raw))(path);
  }

  mkdir(path: string, attrs: SftpAttrs = {}): Promise<void> {
    return promisify(this.raw.mkdir.bind(this.raw))(path, attrs);
  }

  /** Creates `link` pointing at `target`. */
  symlink(target: string, link: string): Promise<void> {
    return promisify(this.raw.symlink.bind(this.raw))(target, link);
  }

  setstat(path: string, attrs: SftpAttrs): Promise<void> {
    return promisify(this.raw.setstat.bind(this.raw))(path, attrs);
  }

  unlink(path: string): Promise<void> {
    return promisify(this.raw.unlink.bind(this.raw))(path);
  }

  rmdir(path: string): Promise<void> {
    return promisify(this.raw.rmdir.bind(this.raw))(path);
  }

  rename(from: string, to: string): Promise<void> {
    return promisify(this.raw.rename.bind(this.raw))(from, to);
  }

  realpath(path: string): Promise<string> {
    return promisify(this.raw.realpath.bind(this.raw))(path);
  }

  /** Ends the session (the server closes its helper). */
  close(): void {
    this.raw.end();
  }
}
