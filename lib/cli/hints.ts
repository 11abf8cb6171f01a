/** Small message helpers shared by instance commands. */
import type { Instance } from '../api/instance';

/** Incus's follow-up line after a failed start/stop: where to look next. */
export function withShowLogHint(err: unknown, name: string, project: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const projectArg = project !== '' && project !== 'default' ? ` --project ${project}` : '';
  return new Error(`${message}\nTry \`incus info --show-log ${name}${projectArg}\` for more info`);
}

/** The warning Incus prints when a new instance has no NIC at all. */
export function noNetworkWarning(inst: Pick<Instance, 'expanded_devices'>): string {
  for (const dev of Object.values(inst.expanded_devices ?? {})) if (dev.type === 'nic') return '';
  return (
    "\nThe instance you are starting doesn't have any network attached to it.\n" +
    '  To create a new network, use: incus network create\n' +
    '  To attach a network to an instance, use: incus network attach\n\n'
  );
}
