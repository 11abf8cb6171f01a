/**
 * The environment of an exec'd command, built as Incus builds it: the
 * request's variables, then the instance's `environment.*` keys where the
 * request did not set them, then defaults for PATH, HOME/USER (root only)
 * and LANG.
 */
import type { ConfigMap } from '../../../api/instance';

/** Incus's default PATH for commands in an instance. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Paths whose presence in the rootfs adds a directory to the default PATH. */
const EXTRA_PATHS: readonly (readonly [string, string])[] = [
  ['/snap', '/snap/bin'],
  ['/etc/NIXOS', '/run/current-system/sw/bin'],
];

/** What the environment depends on besides the request. */
export interface ExecEnvironmentInput {
  requested: Readonly<Record<string, string>> | null | undefined;
  expandedConfig: Readonly<ConfigMap>;
  user: number;
  /** Whether a path exists inside the instance (used only when PATH is unset). */
  exists(pathInInstance: string): boolean;
}

/** The full environment for the command. */
export function execEnvironment(input: ExecEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = { ...(input.requested ?? {}) };
  for (const [k, v] of Object.entries(input.expandedConfig)) {
    if (!k.startsWith('environment.')) continue;
    const name = k.slice('environment.'.length);
    if (!(name in env)) env[name] = v;
  }
  if (!('PATH' in env)) {
    let path = DEFAULT_PATH;
    for (const [probe, dir] of EXTRA_PATHS) if (input.exists(probe)) path += `:${dir}`;
    env.PATH = path;
  }
  if (input.user === 0) {
    env.HOME ??= '/root';
    env.USER ??= 'root';
  }
  env.LANG ??= 'C.UTF-8';
  return env;
}
