/**
 * The seccomp policy of a container in liblxc's v2 profile syntax: Incus's
 * default deny list, security.syscalls.deny/allow, or raw.seccomp as given.
 */
import { isTrue } from './config-keys';

const DEFAULT_DENY = ['kexec_load', 'open_by_handle_at', 'init_module', 'finit_module', 'delete_module'];
/** ENOSYS, as Incus answers denied syscalls. */
const ERRNO = 38;

/** The profile text, or null when the container runs without a filter. */
export function seccompProfile(config: Record<string, string>, privileged: boolean): string | null {
  if (config['raw.seccomp']) return config['raw.seccomp'].endsWith('\n') ? config['raw.seccomp'] : `${config['raw.seccomp']}\n`;
  const list = (k: string): string[] => (config[k] ?? '').split(/[\s,]+/).filter(Boolean);
  const allow = list('security.syscalls.allow');
  if (allow.length > 0) return ['2', 'allowlist', ...allow, ''].join('\n');
  const deny = [...list('security.syscalls.deny')];
  const denyDefault = config['security.syscalls.deny_default'] === undefined || isTrue(config['security.syscalls.deny_default']);
  if (denyDefault) deny.unshift(...DEFAULT_DENY);
  if (deny.length === 0) return null;
  const lines = ['2', 'denylist'];
  if (!privileged) lines.push('reject_force_umount');
  lines.push('[all]');
  for (const s of [...new Set(deny)]) lines.push(`${s} errno ${ERRNO}`);
  return lines.join('\n') + '\n';
}
