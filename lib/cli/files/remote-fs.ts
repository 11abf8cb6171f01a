/**
 * One instance's filesystem as `incus file` uses it: metadata (stat,
 * readdir, readlink, mkdir, symlink, chown/chmod) over an SFTP session, as
 * Incus's CLI does, and file contents over the files API, which streams
 * them without SFTP's per-packet round trips.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { InstanceFiles } from '../../client/files';
import { type SftpAttrs, SftpSession } from '../../client/sftp';

/** Ownership and permission bits to apply; -1 leaves one as it is. */
export interface OwnerMode {
  uid: number;
  gid: number;
  mode: number;
}

/** What the CLI needs to know of a remote path. */
export interface RemoteStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** st_mode as the server reports it. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

function typeOf(mode: number): RemoteStat['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

/** A RemoteStat from SFTP attributes. */
export function remoteStat(a: SftpAttrs): RemoteStat {
  const mode = a.mode ?? 0;
  return { type: typeOf(mode), mode, uid: a.uid ?? 0, gid: a.gid ?? 0, size: a.size ?? 0 };
}

/** A file or directory of one instance; the SFTP session opens on first use. */
export class RemoteFs {
  private sftpSession?: Promise<SftpSession>;

  constructor(
    private readonly files: InstanceFiles,
    readonly instance: string,
  ) {}

  /** The instance's SFTP session. */
  sftp(): Promise<SftpSession> {
    this.sftpSession ??= SftpSession.open(this.files, this.instance);
    return this.sftpSession;
  }

  /** stat (following symlinks) or lstat; null when the path does not exist. */
  async stat(path: string, follow = true): Promise<RemoteStat | null> {
    const st = await (await this.sftp()).statOrNull(path, follow);
    return st ? remoteStat(st) : null;
  }

  /** Entries of a directory with their lstat. */
  async readdir(path: string): Promise<{ name: string; stat: RemoteStat }[]> {
    const names = await (await this.sftp()).readdir(path);
    return names.map((n) => ({ name: n.filename, stat: remoteStat(n.attrs) })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async readlink(path: string): Promise<string> {
    return (await this.sftp()).readlink(path);
  }

  /** Incus's sftpSetOwnerMode: chown (filling -1 with the current id) when an id is given, chmod when a mode is. */
  async setOwnerMode(path: string, om: OwnerMode): Promise<void> {
    const s = await this.sftp();
    if (om.uid >= 0 || om.gid >= 0) {
      const st = await s.stat(path);
      await s.setstat(path, { uid: om.uid >= 0 ? om.uid : st.uid, gid: om.gid >= 0 ? om.gid : st.gid });
    }
    if (om.mode >= 0) await s.setstat(path, { mode: om.mode });
  }

  /**
   * Writes a file (created or truncated). The API applies owner and mode to
   * a new file; an existing one gets them over SFTP, as Incus's CLI does.
   */
  async writeFile(path: string, content: Buffer | Readable, size: number | undefined, om: OwnerMode): Promise<void> {
    const existed = (await this.stat(path)) !== null;
    await this.files.push(this.instance, path, {
      type: 'file',
      write: 'overwrite',
      uid: om.uid,
      gid: om.gid,
      mode: om.mode,
      content,
      size,
    });
    if (existed) await this.setOwnerMode(path, om);
  }

  /** mkdir -p, then owner and mode on the last directory (Incus's MkdirAll + sftpSetOwnerMode). */
  async makeDirectory(path: string, om: OwnerMode): Promise<void> {
    await this.mkdirAll(path);
    await this.setOwnerMode(path, om);
  }

  private async mkdirAll(path: string): Promise<void> {
    const st = await this.stat(path);
    if (st) {
      if (st.type !== 'directory') throw new Error(`${path} is not a directory`);
      return;
    }
    const parent = posix.dirname(path);
    if (parent !== path) await this.mkdirAll(parent);
    const s = await this.sftp();
    try {
      await s.mkdir(path);
    } catch (err) {
      // Lost a race with another creator: fine if a directory is there now.
      if ((await this.stat(path))?.type !== 'directory') throw err;
    }
  }

  /** A symlink at path (an existing symlink there is replaced). */
  async makeSymlink(path: string, target: string): Promise<void> {
    const s = await this.sftp();
    const st = await s.statOrNull(path, false);
    if (st && (st.mode & 0o170000) === 0o120000) await s.unlink(path);
    await s.symlink(target, path);
  }

  /**
   * Incus's sftpRecursiveMkdir: creates the missing directories of `dir`
   * (from the deepest existing one down), each with mode and owner.
   */
  async mkdirParents(dir: string, mode: number | null, uid: number, gid: number): Promise<void> {
    if (dir === '/') return;
    const parts = posix.normalize(dir).replace(/\/+$/, '').split('/');
    let i = parts.length;
    for (; i >= 1; i--) {
      const cur = parts.slice(0, i).join('/') || '/';
      const st = await this.stat(cur, false);
      if (!st) continue;
      if (st.type !== 'directory') throw new Error(`${cur.replace(/^\//, '')} is not a directory`);
      i++;
      break;
    }
    for (; i <= parts.length; i++) {
      const cur = parts.slice(0, i).join('/');
      if (cur === '') continue;
      await this.makeDirectory(cur.startsWith('/') ? cur : `/${cur}`, { uid: Math.max(uid, 0), gid: Math.max(gid, 0), mode: mode ?? -1 });
    }
  }

  /**
   * A file's bytes. Through the API for a regular file; over SFTP when the
   * path is a symlink being followed (the API would return the link itself).
   */
  async readFile(path: string, viaLink: boolean): Promise<Readable> {
    if (viaLink) return (await this.sftp()).raw.createReadStream(path, { highWaterMark: 256 * 1024 });
    const got = await this.files.get(this.instance, path);
    if (got.type === 'directory') throw new Error(`${path} is a directory`);
    return got.stream;
  }

  /** Ends the SFTP session if one was opened. */
  async close(): Promise<void> {
    if (!this.sftpSession) return;
    try {
      (await this.sftpSession).close();
    } catch {
      // It never opened: nothing to close.
    }
  }
}

/** One RemoteFs per instance for a command run; closes them all at the end. */
export class RemoteFsPool {
  private readonly byName = new Map<string, RemoteFs>();

  constructor(private readonly files: InstanceFiles) {}

  get(instance: string): RemoteFs {
    let fs = this.byName.get(instance);
    if (!fs) {
      fs = new RemoteFs(this.files, instance);
      this.byName.set(instance, fs);
    }
    return fs;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((f) => f.close()));
    this.files.close();
  }
}

