/** `[remote:]name` arguments. Only the local server exists for now. */

/** The remote name Incus uses for the local daemon. */
export const LOCAL_REMOTE = 'local';

/**
 * Strips an optional `local:` prefix from `arg`.
 * @throws Error `The remote "x" doesn't exist` for any other remote.
 */
export function localName(arg: string): string {
  const colon = arg.indexOf(':');
  if (colon < 0) return arg;
  const remote = arg.slice(0, colon);
  const rest = arg.slice(colon + 1);
  if (remote === LOCAL_REMOTE) return rest;
  // Incus lets names with "/" (snapshots) contain a colon when the prefix is no remote.
  if (arg.includes('/') && remote.includes('/')) return arg;
  throw new Error(`The remote "${remote}" doesn't exist`);
}
