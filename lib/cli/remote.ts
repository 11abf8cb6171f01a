/**
 * `[remote:]name` arguments of commands that act on one server: the prefix
 * must be the command's target remote (see CliContext.targetRemote), whose
 * client `ctx.client()` is.
 */

/** The remote name Incus uses for the local daemon. */
export const LOCAL_REMOTE = 'local';

const defaultTarget = (): string => LOCAL_REMOTE;
let targetOf: () => string = defaultTarget;

/** Set by the run's CliContext: which remote `ctx.client()` talks to. */
export function setTargetResolver(fn: () => string): void {
  targetOf = fn;
}

/**
 * Strips an optional `REMOTE:` prefix from `arg` when REMOTE is the
 * command's target remote.
 * @throws Error `The remote "x" doesn't exist` for any other remote.
 */
export function localName(arg: string): string {
  const colon = arg.indexOf(':');
  if (colon < 0) return arg;
  const remote = arg.slice(0, colon);
  const rest = arg.slice(colon + 1);
  if (remote === LOCAL_REMOTE && targetOf === defaultTarget) return rest;
  if (remote === targetOf()) return rest;
  // Incus lets names with "/" (snapshots) contain a colon when the prefix is no remote.
  if (arg.includes('/') && remote.includes('/')) return arg;
  throw new Error(`The remote "${remote}" doesn't exist`);
}
