/**
 * A newc ("070701") cpio archive writer, the format the Linux kernel unpacks
 * as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
 * Written here rather than by a cpio tool so that owners (0:0), mtimes and
 * order are fixed whoever runs the build, and device nodes need no mknod.
 */

/** File type bits of `st_mode` (inode(7)). */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

/** One archive member; owners are always 0:0. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; mode: number; major: number; minor: number };

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function header(f: { ino: number; mode: number; nlink: number; mtime: number; size: number; rmajor: number; rminor: number; name: string }): Buffer[] {
  const name = Buffer.from(`${f.name}\0`, 'utf8');
  const fields = [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, f.rmajor, f.rminor, name.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1');
  return [head, name, pad4(head.length + name.length)];
}

/**
 * Serialises `entries` in the order given (parents must come before their
 * children), every mtime set to `mtime`, ending with the TRAILER!!! member.
 * @throws RangeError on an absolute or empty path.
 */
export function writeCpio(entries: readonly CpioEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    if (e.path === '' || e.path.startsWith('/') || e.path.split('/').includes('..')) {
      throw new RangeError(`Invalid cpio member path: ${e.path}`);
    }
    const base = { ino: ino++, mtime, name: e.path, rmajor: 0, rminor: 0 };
    switch (e.kind) {
      case 'dir':
        parts.push(...header({ ...base, mode: S_IFDIR | (e.mode & 0o7777), nlink: 2, size: 0 }));
        break;
      case 'file':
        parts.push(...header({ ...base, mode: S_IFREG | (e.mode & 0o7777), nlink: 1, size: e.data.length }), e.data, pad4(e.data.length));
        break;
      case 'symlink': {
        const data = Buffer.from(e.target, 'utf8');
        parts.push(...header({ ...base, mode: S_IFLNK | 0o777, nlink: 1, size: data.length }), data, pad4(data.length));
        break;
      }
      case 'chardev':
        parts.push(...header({ ...base, mode: S_IFCHR | (e.mode & 0o7777), nlink: 1, size: 0, rmajor: e.major, rminor: e.minor }));
        break;
    }
  }
  parts.push(...header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, rmajor: 0, rminor: 0, name: 'TRAILER!!!' }));
  return Buffer.concat(parts);
}
