/** The -P/-H/-L symlink flags shared by `file push` and `file pull`. */

/** Flags of a copy in either direction. */
export interface CopyFlags {
  recursive?: boolean;
  /** -P: never follow symlinks in the source. */
  noDereference?: boolean;
  /** -H: follow symlinks named on the command line. */
  follow?: boolean;
  /** -L: always follow symlinks. */
  dereference?: boolean;
}

/** Incus's fileCopiable.preCheck: the three are mutually exclusive. */
export function checkDerefFlags(f: CopyFlags): void {
  const n = [f.noDereference, f.follow, f.dereference].filter(Boolean).length;
  if (n > 1) throw new Error('--no-dereference/-P, --follow/-H, and --dereference/-L are mutually exclusive');
}
